#!/usr/bin/env bash
# Checks docs/SECURITY.md, the security ledger: every test a row names must exist as `fn NAME`
# somewhere under tests/, src/, labs/ or tools/, and every claim must name at least one test.
# A row whose test column says TBD (TBD-H1, TBD-H2: being written on another branch) is skipped
# and counted, only for as long as it says TBD. Exit 0 if all is well, 1 with the list otherwise.
#
# Usage: scripts/check-ledger.sh [LEDGER]   (default docs/SECURITY.md, from the repository root)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
LEDGER=${1:-docs/SECURITY.md}
[ -f "$LEDGER" ] || { echo "check-ledger: $LEDGER not found" >&2; exit 1; }

SEARCH=()
for dir in tests src labs tools; do
    [ -d "$dir" ] && SEARCH+=("$dir")
done

missing=()      # "row-id name"
untested=()     # claims that name no test
tbd=0
checked=0
rows=0

# The ledger's table rows: `| id | kind | text | tests |`. Header and separator rows are skipped.
while IFS= read -r line; do
    [[ $line == '|'* ]] || continue
    IFS='|' read -r _ id kind _text tests _rest <<<"$line"
    # Trimmed with sed, not xargs: xargs stops at a quote in any table's text.
    id=$(sed -E 's/^[[:space:]]+|[[:space:]]+$//g' <<<"$id")
    kind=$(sed -E 's/^[[:space:]]+|[[:space:]]+$//g' <<<"$kind")
    case "$kind" in claim|limit) ;; *) continue ;; esac
    rows=$((rows + 1))
    if [[ $tests == *TBD* ]]; then
        tbd=$((tbd + 1))
        continue
    fi
    # Test names are the backquoted identifiers of the last column (a `path::name` counts by name).
    names=$(grep -oE '`[A-Za-z_][A-Za-z0-9_:]*`' <<<"$tests" | tr -d '`' | sed 's/.*:://' || true)
    if [ -z "$names" ]; then
        [ "$kind" = claim ] && untested+=("$id")
        continue
    fi
    for name in $names; do
        checked=$((checked + 1))
        if ! grep -rqE --include='*.rs' "fn[[:space:]]+${name}[[:space:]]*[(<]" "${SEARCH[@]}"; then
            missing+=("$id $name")
        fi
    done
done <"$LEDGER"

if [ "$rows" -eq 0 ]; then
    echo "check-ledger: no claim or limit rows found in $LEDGER" >&2
    exit 1
fi
status=0
if [ ${#missing[@]} -gt 0 ]; then
    echo "check-ledger: $LEDGER names tests that do not exist (no \`fn NAME\` under ${SEARCH[*]}):" >&2
    printf '  row %s\n' "${missing[@]}" >&2
    status=1
fi
if [ ${#untested[@]} -gt 0 ]; then
    echo "check-ledger: claims without a test (name one, or mark the row TBD): ${untested[*]}" >&2
    status=1
fi
echo "check-ledger: $rows rows, $checked test names checked, $tbd rows still TBD"
exit $status
