#!/usr/bin/env bash
# Train an NLU-only model from data/nlu + config.yml and evaluate it on the held-out set
# tests/nlu_heldout.yml. Prints training time, intent macro-F1 and per-entity F1.
# Usage: scripts/nlu_check.sh [outdir]   (default /tmp/nlucheck)
#   CONFIG=other.yml TEST=other_test.yml scripts/nlu_check.sh ...  to try another pipeline / test set
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-/tmp/nlucheck}"
RASA="${RASA:-.venv/bin/rasa}"
CONFIG="${CONFIG:-config.yml}"
TEST="${TEST:-tests/nlu_heldout.yml}"
export RASA_TELEMETRY_ENABLED=false
mkdir -p "$OUT"
# throwaway domain listing the contract's intents and entities (the real domain.yml is not needed)
cat > "$OUT/domain.yml" <<'YML'
version: "3.1"
intents: [greet, goodbye, affirm, deny, thank, bot_challenge, request_refund, check_refund_status,
  check_order_status, ask_refund_policy, cancel_refund, stop, human_handoff, inform, out_of_scope]
entities: [order_id, amount, refund_method]
YML
start=$(date +%s)
"$RASA" train nlu --nlu data/nlu --config "$CONFIG" --domain "$OUT/domain.yml" \
  --out "$OUT/models" --fixed-model-name nlu > "$OUT/train.log" 2>&1
echo "training: $(( $(date +%s) - start )) s"
rm -rf "$OUT/results"
"$RASA" test nlu --nlu "$TEST" --model "$OUT/models/nlu.tar.gz" \
  --out "$OUT/results" > "$OUT/test.log" 2>&1
python3 - "$OUT/results" <<'PY'
import json, sys, pathlib
r = pathlib.Path(sys.argv[1])
rep = json.loads((r / "intent_report.json").read_text())
print(f"intent macro-F1 {rep['macro avg']['f1-score']:.3f}  accuracy {rep['accuracy']:.3f}")
for name, v in sorted(rep.items()):
    if isinstance(v, dict) and "f1-score" in v and not name.endswith("avg") and v["f1-score"] < 1:
        print(f"  {name:22s} f1 {v['f1-score']:.3f}  confused with {v.get('confused_with', {})}")
for f in sorted(r.glob("*Extractor_report.json")) + sorted(r.glob("DIETClassifier_report.json")):
    rep = json.loads(f.read_text())
    ents = {k: round(v["f1-score"], 3) for k, v in rep.items() if isinstance(v, dict) and "f1-score" in v and k not in ("accuracy",)}
    print(f"{f.stem}: {ents}")
errs = r / "intent_errors.json"
if errs.exists():
    for e in json.loads(errs.read_text()):
        print(f"  ERR {e['intent']} -> {e['intent_prediction']['name']} ({e['intent_prediction']['confidence']:.2f}): {e['text']}")
PY
