#!/usr/bin/env bash
# The fault suite: runs every tests/faults/NN-*.sh in order (or the cases named: `run.sh 01 03` or file names),
# each with its output under "== case ==", then prints one line per case (fault, what was checked, result) and
# exits 1 if any case failed. FAULTS_SKIP="02 05" skips cases by number (local runs only: 02 restarts the
# shared PostgreSQL server; CI runs everything).
set -uo pipefail
cd "$(dirname "$0")"

cases=()
if (($#)); then
  for name in "$@"; do
    match=$(ls -1 "${name%.sh}"*.sh 2>/dev/null | grep -E '^[0-9][0-9]-' | head -n 1)
    [[ -n "$match" ]] || { echo "faults: no case $name" >&2; exit 2; }
    cases+=("$match")
  done
else
  for file in [0-9][0-9]-*.sh; do cases+=("$file"); done
fi

summary=$(mktemp)
trap 'rm -f "$summary" "$summary".case' EXIT
failed=0
for file in "${cases[@]}"; do
  number=${file%%-*}
  if [[ " ${FAULTS_SKIP:-} " == *" $number "* ]]; then
    printf '%s\tSKIP\t-\t-\tskipped by FAULTS_SKIP\n' "${file%.sh}" >> "$summary"
    continue
  fi
  printf '\n== fault %s ==\n' "${file%.sh}"
  : > "$summary.case"
  started=$(date +%s)
  if FAULTS_SUMMARY=$summary.case bash "$file"; then status=PASS; else status=FAIL; failed=1; fi
  took=$(($(date +%s) - started))
  field() { awk -F'\t' -v k="$1" '$1 == k { v = substr($0, length(k) + 2) } END { print (v == "" ? "-" : v) }' \
    "$summary.case"; }
  printf '%s\t%s\t%s\t%s\t%s (%d s)\n' "${file%.sh}" "$status" "$(field fault)" "$(field checked)" \
    "$(field result)" "$took" >> "$summary"
done

printf '\n== fault summary ==\n'
while IFS=$'\t' read -r name status fault checked outcome; do
  printf '%-4s %s | %s | %s | %s\n' "$status" "$name" "$fault" "$checked" "$outcome"
done < "$summary"
exit "$failed"
