/* bench-messages.h: the three SIP messages bench-parse and bench-parse-sofia
 * parse, in one place so that both programs parse the same bytes: a typical
 * INVITE with SDP, a 200 OK with three Via and two Record-Route values, and a
 * REGISTER with Digest credentials. */
#ifndef SF_BENCH_MESSAGES_H
#define SF_BENCH_MESSAGES_H

static const char bench_invite[] =
  "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
  "Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport\r\n"
  "Max-Forwards: 70\r\n"
  "To: Bob <sip:bob@biloxi.example.com>\r\n"
  "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
  "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
  "CSeq: 314159 INVITE\r\n"
  "Contact: <sip:alice@pc33.atlanta.example.com>\r\n"
  "Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, MESSAGE\r\n"
  "Supported: replaces, timer\r\n"
  "User-Agent: sipflow-bench/1.0\r\n"
  "Content-Type: application/sdp\r\n"
  "Content-Length: 142\r\n"
  "\r\n"
  "v=0\r\n"
  "o=alice 2890844526 2890844526 IN IP4 pc33.atlanta.example.com\r\n"
  "s=-\r\n"
  "c=IN IP4 192.0.2.101\r\n"
  "t=0 0\r\n"
  "m=audio 49172 RTP/AVP 0\r\n"
  "a=rtpmap:0 PCMU/8000\r\n";

static const char bench_ok200[] =
  "SIP/2.0 200 OK\r\n"
  "Via: SIP/2.0/UDP server10.biloxi.example.com;branch=z9hG4bK4b43c2ff8.1;received=192.0.2.3\r\n"
  "Via: SIP/2.0/UDP bigbox3.site3.atlanta.example.com;branch=z9hG4bK77ef4c2312983.1;received=192.0.2.2\r\n"
  "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;received=192.0.2.1\r\n"
  "Record-Route: <sip:server10.biloxi.example.com;lr>, <sip:bigbox3.site3.atlanta.example.com;lr>\r\n"
  "To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
  "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
  "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
  "CSeq: 314159 INVITE\r\n"
  "Contact: <sip:bob@192.0.2.4>\r\n"
  "Content-Length: 0\r\n"
  "\r\n";

static const char bench_register[] =
  "REGISTER sip:registrar.biloxi.example.com SIP/2.0\r\n"
  "Via: SIP/2.0/UDP bobspc.biloxi.example.com:5060;branch=z9hG4bKnashds7\r\n"
  "Max-Forwards: 70\r\n"
  "To: Bob <sip:bob@biloxi.example.com>\r\n"
  "From: Bob <sip:bob@biloxi.example.com>;tag=456248\r\n"
  "Call-ID: 843817637684230@998sdasdh09\r\n"
  "CSeq: 1826 REGISTER\r\n"
  "Contact: <sip:bob@192.0.2.4>;expires=7200;q=0.8\r\n"
  "Authorization: Digest username=\"bob\", realm=\"biloxi.example.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
  "uri=\"sip:registrar.biloxi.example.com\", response=\"6629fae49393a05397450978507c4ef1\", algorithm=MD5, "
  "cnonce=\"0a4f113b\", qop=auth, nc=00000001\r\n"
  "Expires: 7200\r\n"
  "Content-Length: 0\r\n"
  "\r\n";

#endif
