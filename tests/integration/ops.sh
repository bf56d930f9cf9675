#!/bin/bash
# ops.sh: 'sipflow ops', the operator reference printed from the operator tables:
#  - the listing names operators of every module (OpRing, OpTxnRespond) under their module;
#  - one entry shows the module, triggers, queues, events, transitions, outcomes ("error"
#    included), argument with its syntax, RFC section and doc; the listing shows the triggers;
#  - an unknown name exits 1 with a "did you mean" for a near miss (2 edits or fewer);
#  - --help, --markdown, a bad option (exit 2), and --plugin listing a plugin's operators.
. "$(dirname "$0")/lib.sh"
BUILD=${SF_BUILDDIR:-$PWD}

expect_rc "ops --help exits 0" 0 "$SIPFLOW" ops --help
has "ops --help shows the usage" "$T/out" "Usage: sipflow ops"
expect_rc "sipflow --help" 0 "$SIPFLOW" --help
has "sipflow --help lists ops" "$T/out" "ops [NAME]"

expect_rc "ops lists every operator" 0 "$SIPFLOW" ops
has "the listing has OpRing" "$T/out" "OpRing"
has "the listing has OpTxnRespond" "$T/out" "OpTxnRespond"
has "the listing groups by module (ua)" "$T/out" "ua: "
has "the listing groups by module (transaction)" "$T/out" "transaction: "
grep -E '^  OpRing +normal +sip ' "$T/out" >/dev/null && pass "OpRing's line: queue and events" \
  || fail "OpRing's line" "$(grep OpRing "$T/out")"

expect_rc "ops OpRing" 0 "$SIPFLOW" ops OpRing
has "OpRing: module" "$T/out" "module:      ua"
has "OpRing: queues" "$T/out" "queues:      normal"
has "OpRing: events" "$T/out" "events:      sip"
has "OpRing: transitions" "$T/out" "transitions: yes"
has "OpRing: outcomes with error" "$T/out" "outcomes:    refused, error"
has "OpRing: argument" "$T/out" "argument:    none"
has "OpRing: doc line" "$T/out" "sends 180 Ringing"
has "OpRing: triggers" "$T/out" "triggers:    sip:INVITE"
has "OpRing: RFC section" "$T/out" "rfc:         RFC 3261 13.3.1.1"
expect_rc "ops OpReject" 0 "$SIPFLOW" ops OpReject
has "OpReject: both its triggers" "$T/out" "triggers:    sip:INVITE|device:reject"
has "OpReject: the arg's syntax" "$T/out" "argument:    required: STATUS"
expect_rc "ops OpOnTimer" 0 "$SIPFLOW" ops OpOnTimer
has "OpOnTimer: \$arg in its trigger" "$T/out" "triggers:    timer:\$arg"
expect_rc "ops OpAuthenticate" 0 "$SIPFLOW" ops OpAuthenticate
has "OpAuthenticate: response status triggers" "$T/out" "triggers:    sip:response 401|sip:response 407"
expect_rc "ops OpStartAudio" 0 "$SIPFLOW" ops OpStartAudio
has "OpStartAudio (entry): any event" "$T/out" "triggers:    *"
expect_rc "ops lists triggers" 0 "$SIPFLOW" ops
grep -E '^  OpRing .*; on sip:INVITE$' "$T/out" >/dev/null && pass "OpRing's line: its trigger" \
  || fail "OpRing's line: no trigger" "$(grep OpRing "$T/out")"

expect_rc "ops OpRng: no such operator" 1 "$SIPFLOW" ops OpRng
has "OpRng is named" "$T/err" "sipflow ops: no operator 'OpRng'"
has "OpRng: did you mean OpRing" "$T/err" "did you mean 'OpRing'?"
expect_rc "ops opring (case slip)" 1 "$SIPFLOW" ops opring
has "opring: did you mean OpRing" "$T/err" "did you mean 'OpRing'?"
expect_rc "ops Zzzzzz: no such operator" 1 "$SIPFLOW" ops Zzzzzz
if grep -q "did you mean" "$T/err"; then fail "nothing close: no suggestion" "$(cat "$T/err")"; else pass "nothing close: no suggestion"; fi

expect_rc "ops --markdown" 0 "$SIPFLOW" ops --markdown
has "markdown title" "$T/out" "# Operator reference"
has "markdown module heading" "$T/out" "## Module ua"
has "markdown entry" "$T/out" "### OpRing"
has "markdown triggers" "$T/out" "- triggers: \`sip:INVITE\`"
has "markdown RFC" "$T/out" "- RFC: RFC 3261 13.3.1.1"
has "markdown argument syntax" "$T/out" "- argument: required: METHOD=STATUS"
expect_rc "ops --bogus: usage error" 2 "$SIPFLOW" ops --bogus
expect_rc "ops A B: usage error" 2 "$SIPFLOW" ops OpRing OpAck

plugin=$BUILD/tests/plugins/.libs/sample.so
if [ -e "$plugin" ]; then
  expect_rc "ops --plugin sample.so" 0 "$SIPFLOW" ops --plugin "$plugin"
  has "the plugin's operators are listed" "$T/out" "sample:OpHello"
  expect_rc "ops --plugin sample.so sample:OpHello" 0 "$SIPFLOW" ops --plugin "$plugin" sample:OpHello
  has "the plugin operator's module" "$T/out" "module:      sample"
  has "the plugin operator's triggers" "$T/out" "triggers:    device"
else
  fail "the sample plugin was not built" "$plugin"
fi
expect_rc "ops --plugin of a missing file exits 1" 1 "$SIPFLOW" ops --plugin "$T/none.so"

summary ops
