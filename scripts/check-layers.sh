#!/bin/sh
# The layers, checked (docs/design.md "Layers"): includes run one way,
# cmd/ -> models/ -> workloads/ -> lib/, and no workload names a model.
#   lib/        includes only lib/
#   workloads/  includes lib/ and workloads/
#   models/     includes lib/, workloads/ and models/
#   cmd/        includes anything
# A workload names a model when its code (comments aside) uses a
# conc_model_* symbol or a string that is exactly a model's name.
# Usage: scripts/check-layers.sh [ROOT]; prints each breach, exits 1 on any.
set -eu
root=${1:-.}
cd "$root"
status=0

breach() {
    echo "layers: $*" >&2
    status=1
}

# includes FILE: the project headers FILE includes ("dir/name.h" form).
includes() {
    sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$1"
}

for f in lib/*.[ch] workloads/*.[ch] workloads/*/*.[ch] models/*.[ch]; do
    [ -f "$f" ] || continue
    case $f in
    lib/*) allowed="lib/" ;;
    workloads/*) allowed="lib/ workloads/" ;;
    models/*) allowed="lib/ workloads/ models/" ;;
    esac
    for inc in $(includes "$f"); do
        ok=0
        for a in $allowed; do
            case $inc in "$a"*) ok=1 ;; esac
        done
        [ "$ok" -eq 1 ] || breach "$f includes \"$inc\", above its layer (allowed: $allowed)"
    done
done

# Model names, from the models' own definitions (`.name = "threads",`
# inside `const struct conc_model conc_model_X = {`).
names=$(sed -n '/^const struct conc_model conc_model_/,/^};/s/^[[:space:]]*\.name = "\([^"]*\)".*/\1/p' \
    models/*.c | sort -u)
for f in workloads/*.[ch] workloads/*/*.[ch]; do
    [ -f "$f" ] || continue
    # The code without its comments (gcc's preprocessor, nothing expanded).
    code=$(gcc -fpreprocessed -dD -E -P -x c "$f" 2>/dev/null) || {
        breach "$f: cannot strip its comments"
        continue
    }
    if printf '%s\n' "$code" | grep -q 'conc_model_'; then
        breach "$f names a model: $(printf '%s\n' "$code" | grep -o 'conc_model_[a-z_]*' | head -n 1)"
    fi
    for m in $names; do
        if printf '%s\n' "$code" | grep -q "\"$m\""; then
            breach "$f names the model '$m'"
        fi
    done
done
exit $status
