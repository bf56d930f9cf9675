#!/bin/bash
# b2bua-sipp.sh: sipp -> xml/b2bua.xml -> sipp, on loopback, bounded
# (docs/b2bua.md; the scenarios are tests/integration/sipp/b2b-uac.xml and
# b2b-uas.xml).  The B2BUA runs with media pass-through and short RFC timers.
#  - 1000 calls at 100 calls/s (100 at once at most: margin for a loaded 2-core machine, ASan): every call successful on
#    both sides; the callee's scenario fails any call whose INVITE carries
#    anything of the caller's leg (X-Secret, Contact, tags, Via branch,
#    User-Agent, SDP origin) or a Max-Forwards other than 69 (RFC 7332), and
#    the caller's fails any 200 with the callee's markers (topology hiding,
#    docs/b2bua.md section 3);
#  - 1000 distinct Call-IDs on each side and none on both (comm -12 empty);
#  - 1000 bridge_end lines, each pairing one caller Call-ID with one callee
#    Call-ID;
#  - every instance the B2BUA made (bridges, legs, transactions) ended.
# Negative control: the same sipps talking directly fail every call (the
# markers are seen), so the checks above can fail.
. "$(dirname "$0")/lib.sh"
need_sipp
SCEN=$(cd "$(dirname "$0")/sipp" && pwd)
CALLS=${CALLS:-1000}

# The negative control: caller straight to callee.
sipp_server direct-uas -sf "$SCEN/b2b-uas.xml" -m 3 -trace_logs -log_file "$T/direct-uas.log" ||
  { fail "the called sipp did not start"; summary b2bua-sipp; exit 1; }
uas_pid=$SIPP_PID
sipp_run direct-uac "127.0.0.1:$SIPP_PORT" -sf "$SCEN/b2b-uac.xml" -s callee -m 3 -timeout 20
SIPP_PID=$uas_pid
sipp_server_wait direct-uas
[ "${OK:-0}" = 0 ] && [ "${FAILED:-0}" = 3 ] &&
  pass "control: without the B2BUA the callee's scenario fails all 3 calls (the caller's markers reach it)" ||
  fail "control: $OK successful, $FAILED failed" "$(tail -5 "$T/direct-uas.out")"

sipp_server uas -sf "$SCEN/b2b-uas.xml" -m "$CALLS" -trace_logs -log_file "$T/uas.log" ||
  { fail "the called sipp did not start"; summary b2bua-sipp; exit 1; }
uas_port=$SIPP_PORT uas_pid=$SIPP_PID
start b2b b2bua.xml --set "b2bua.target=sip:callee@127.0.0.1:$uas_port" --set b2bua.media=pass \
  --set sip.t1_ms=100 --log-level error || { summary b2bua-sipp; exit 1; }
sipp_run uac "127.0.0.1:$PORT_b2b" -sf "$SCEN/b2b-uac.xml" -s b2b -m "$CALLS" -r 100 -l 100 -timeout 90 \
  -trace_logs -log_file "$T/uac.log"
UAC_RC=$SIPP_RC UAC_OK=${OK:-0} UAC_FAILED=${FAILED:-0}
SIPP_PID=$uas_pid
sipp_server_wait uas
[ "$UAC_RC" = 0 ] && [ "$UAC_OK" = "$CALLS" ] &&
  pass "caller: $CALLS calls through the B2BUA, all successful, no callee marker in any 200" ||
  fail "caller: sipp exit $UAC_RC, $UAC_OK successful, $UAC_FAILED failed" "$(tail -5 "$T/uac.out")"
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = "$CALLS" ] &&
  pass "callee: $CALLS calls, none with X-Secret or another caller marker, Max-Forwards 69 in each" ||
  fail "callee: sipp exit $SIPP_RC, ${OK:-0} successful, ${FAILED:-0} failed" "$(tail -5 "$T/uas.out")"

sed -n 's/^A //p' "$T/uac.log" | sort -u >"$T/a.ids"
sed -n 's/^B //p' "$T/uas.log" | sort -u >"$T/b.ids"
na=$(wc -l <"$T/a.ids") nb=$(wc -l <"$T/b.ids") both=$(comm -12 "$T/a.ids" "$T/b.ids" | wc -l)
[ "$na" = "$CALLS" ] && [ "$nb" = "$CALLS" ] && [ "$both" = 0 ] &&
  pass "$CALLS distinct Call-IDs on each side, none on both" ||
  fail "Call-IDs: $na on the caller's side, $nb on the callee's, $both on both"

# bridge_end pairs them: its a_call_id is the caller's, its b_call_id the callee's.
# (A bridge ends once both legs have: the last ones after sipp is done; bounded.)
wait_ev b2b '"event":"bridge_end"' 30 "$CALLS"
python3 -c 'import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l) if l.startswith("{") else {}
    if e.get("event") == "bridge_end":
        print(e.get("a_call_id"), e.get("b_call_id"))' "$T/b2b.events" >"$T/pairs"
np=$(wc -l <"$T/pairs")
pa=$(cut -d' ' -f1 "$T/pairs" | sort -u | comm -12 - "$T/a.ids" | wc -l)
pb=$(cut -d' ' -f2 "$T/pairs" | sort -u | comm -12 - "$T/b.ids" | wc -l)
[ "$np" = "$CALLS" ] && [ "$pa" = "$CALLS" ] && [ "$pb" = "$CALLS" ] &&
  pass "$CALLS bridge_end lines, each pairing a caller Call-ID with a callee Call-ID" ||
  fail "bridge_end: $np lines, $pa caller Call-IDs, $pb callee Call-IDs matched"

ep_ended b2b && pass "every instance of the B2BUA ended ($(ep_field instances_created) created)" ||
  fail "instances left" "$STATS"
stop b2b && pass "quit: exit 0" || fail "quit: exit $?" "$(err_report "$T/b2b.err")"
summary b2bua-sipp
