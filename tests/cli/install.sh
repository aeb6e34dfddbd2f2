#!/usr/bin/env bash
# cmake --install into a temporary prefix; then the example program
# tests/embed/surrogate.c built against the installed package three ways --
# pkg-config (shared and static) and find_package(dtrain) (dtrain::dtrain and
# dtrain::dtrain_static) -- and run at 2 ranks: each trains a surrogate on
# arrays it generates, and exits 0 only if the loss fell and the saved model
# reloads to the same predictions.
source "$(dirname "$0")/lib.sh"
BUILD=$(dirname "$DTRAIN")
PREFIX=$TMP/prefix

if cmake --install "$BUILD" --prefix "$PREFIX" >"$TMP/install.log" 2>&1; then
  pass "cmake --install --prefix"
else
  fail "cmake --install: $(tail -5 "$TMP/install.log")"
  finish
fi
LIBDIR=$(dirname "$(find "$PREFIX" -name libdtrain.a | head -1)")
for f in bin/dtrain bin/dtrain-plot include/dtrain.h; do
  [[ -f $PREFIX/$f ]] && pass "installed $f" || fail "$f not installed"
done
for f in libdtrain.a libdtrain.so pkgconfig/dtrain.pc cmake/dtrain/dtrainConfig.cmake \
         cmake/dtrain/dtrainConfigVersion.cmake cmake/dtrain/dtrainTargets.cmake; do
  [[ -e $LIBDIR/$f ]] && pass "installed lib/$f" || fail "lib/$f not installed"
done
# only the public header, and no test program
[[ ! -e $PREFIX/include/dtrain ]] && pass "internal headers not installed" \
  || fail "include/dtrain/ installed"
extra=$(find "$PREFIX" -name 'dtrain-test*' -o -name 'check_*' -o -name 'make_bad_h5*')
[[ -z $extra ]] && pass "no test binaries installed" || fail "test binaries installed: $extra"
exported=$(nm -D --defined-only "$LIBDIR/libdtrain.so" | awk '$2 == "T" {print $3}' | grep -v '^dtrain_' || true)
[[ -z $exported ]] && pass "libdtrain.so exports dtrain_* only" \
  || fail "libdtrain.so exports internal functions: $(head -3 <<<"$exported")"

# the installed command runs
if timeout -k 5 60 mpirun -np 1 "$PREFIX/bin/dtrain" --version >"$TMP/v" 2>&1 && grep -q '^dtrain ' "$TMP/v"; then
  pass "installed dtrain --version"
else
  fail "installed dtrain --version: $(cat "$TMP/v")"
fi

# the installed plotting script runs (tests/cli/plot.sh checks what it draws)
printf '{"epoch": 1, "train_loss": 0.9}\n{"epoch": 2, "train_loss": 0.5}\n' >"$TMP/log.jsonl"
if [[ -x $PREFIX/bin/dtrain-plot ]] && "$PREFIX/bin/dtrain-plot" "$TMP/log.jsonl" --out "$TMP/log.png" \
     >"$TMP/p" 2>&1 && [[ $(head -c 8 "$TMP/log.png" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]]; then
  pass "installed dtrain-plot draws a PNG"
else
  fail "installed dtrain-plot: $(cat "$TMP/p")"
fi

# dtrain plot runs the plotter beside the binary first: the installed
# dtrain-plot; and, for a copy of dtrain beside another dtrain-plot, that one
if "$PREFIX/bin/dtrain" plot "$TMP/log.jsonl" --out "$TMP/cmd.png" >"$TMP/p" 2>&1 \
   && [[ $(head -c 8 "$TMP/cmd.png" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]]; then
  pass "installed dtrain plot draws a PNG"
else
  fail "installed dtrain plot: $(cat "$TMP/p")"
fi
mkdir "$TMP/alone" && cp "$PREFIX/bin/dtrain" "$TMP/alone/" && printf '#!/bin/sh\necho "beside: $*"\n' >"$TMP/alone/dtrain-plot" \
  && chmod +x "$TMP/alone/dtrain-plot"
got=$("$TMP/alone/dtrain" plot run.jsonl --out x.png 2>&1)
[[ $got == "beside: run.jsonl --out x.png" ]] && pass "dtrain plot runs the dtrain-plot beside it, with its arguments" \
  || fail "dtrain plot beside: '$got'"

# the man page (help2man reading --help-all): installed, and groff renders it
# without a warning, with every command's options
MAN=$PREFIX/share/man/man1/dtrain.1
if [[ -f $MAN ]]; then
  pass "installed share/man/man1/dtrain.1"
  if groff -man -Tascii -P-cbou -ww "$MAN" >"$TMP/man.txt" 2>"$TMP/man.err" && [[ ! -s $TMP/man.err ]]; then
    pass "groff renders dtrain.1 ($(wc -l <"$TMP/man.txt") lines)"
  else
    fail "groff dtrain.1: $(head -3 "$TMP/man.err")"
  fi
  for want in SYNOPSIS 'mpirun -np P dtrain COMMAND' 'Options of dtrain train:' \
              'Options of dtrain convert:' '--optimizer' '--checkpoint-dir DIR'; do
    grep -qF -- "$want" "$TMP/man.txt" && pass "man page shows '$want'" \
      || fail "man page lacks '$want'"
  done
else
  fail "share/man/man1/dtrain.1 not installed"
fi

# the bash completion (generated from the option table): sourced in bash, the
# function it registers for the line's first word (dtrain, or a launcher:
# mpirun, srun) completes what COMP_WORDS/COMP_CWORD describe
COMPLETION=$PREFIX/share/bash-completion/completions/dtrain
complete_words() {
  bash -c 'source "$1" || exit 1; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
           spec=$(complete -p "${1##*/}") || exit 1
           [[ $spec =~ -F\ ([^ ]+) ]] || exit 1
           "${BASH_REMATCH[1]}" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
           printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$COMPLETION" "$@"
}
expect_completion() {
  local want=$1; shift
  local got
  got=$(complete_words "$@" | paste -sd' ')
  [[ $got == "$want" ]] && pass "completion of '$*': $got" \
    || fail "completion of '$*': '$got', expected '$want'"
}
if [[ -f $COMPLETION ]]; then
  pass "installed share/bash-completion/completions/dtrain"
  expect_completion "train" dtrain tr
  expect_completion "--optimizer" dtrain train --opt
  expect_completion "adagrad adam adamw" dtrain train --optimizer a
  expect_completion "accuracy,r2 accuracy,rmse" dtrain train --metrics accuracy,r
  expect_completion "predict" dtrain help pre
  expect_completion "float32 float64" dtrain convert --x-dtype f
  # typed after a launcher, with any path to dtrain
  expect_completion "--optimizer" mpirun -np 2 dtrain train --opt
  expect_completion "--optimizer" srun -n 2 dtrain train --opt
  expect_completion "adagrad adam adamw" mpirun --oversubscribe -np 2 ./build/dtrain train --optimizer a
  expect_completion "train" mpiexec -n 2 dtrain tr
  expect_completion "--cv --describe --help --out" mpirun -np 2 dtrain plot --
  # a list's names already given are not offered again
  expect_completion "auc,accuracy auc,f1 auc,log_loss auc,mae auc,r2 auc,rmse" dtrain train --metrics auc,
  expect_completion "auc,f1,accuracy" mpirun -np 2 dtrain train --metrics auc,f1,a
  expect_completion "" dtrain cv --metrics auc,f1,accuracy,log_loss,rmse,mae,r2,
  expect_completion "plot" dtrain pl
  expect_completion "bash zsh" dtrain completion ""
  # bash-completion loads a command's file when that command is completed
  # first: each launcher's is a link to dtrain's
  for l in mpirun mpiexec orterun srun; do
    [[ $(readlink "$PREFIX/share/bash-completion/completions/$l") == dtrain ]] \
      && pass "completions/$l links to dtrain's" || fail "completions/$l: $(ls -l "$PREFIX/share/bash-completion/completions")"
  done
  # a launcher's own completion, loaded before, still completes its lines
  # that have no dtrain
  got=$(bash -c '_mine() { COMPREPLY=(own); }; complete -F _mine srun; source "$1"
                 COMP_WORDS=(srun -n 2 hostn); COMP_CWORD=3; _dtrain_launcher srun hostn 2
                 a=${COMPREPLY[*]}; COMP_WORDS=(srun dtrain tr); COMP_CWORD=2; _dtrain_launcher
                 echo "$a ${COMPREPLY[*]}"' _ "$COMPLETION")
  [[ $got == "own train" ]] && pass "srun's own completion kept for lines without dtrain" \
    || fail "srun's own completion: '$got'"
  # every option of every command's --help, and every choice it lists, is
  # completed (the script is the table's, not a list kept by hand)
  for cmd in train eval cv predict inspect bench convert; do
    want=$("$PREFIX/bin/dtrain" "$cmd" --help | sed -n 's/^  \(--[a-z0-9-]*\).*/\1/p' | sort -u | paste -sd' ')
    got=$(complete_words dtrain "$cmd" -- | grep -v '^--help$' | sort -u | paste -sd' ')
    [[ -n $want && $got == "$want" ]] && pass "dtrain $cmd --<TAB>: all $(wc -w <<<"$want") options" \
      || fail "dtrain $cmd --<TAB>: '$got', --help has '$want'"
    while read -r opt list; do
      got=$(complete_words dtrain "$cmd" "$opt" "" | paste -sd'|')
      [[ $got == "$(tr '|' '\n' <<<"$list" | sort | paste -sd'|')" ]] \
        && pass "dtrain $cmd $opt <TAB>: $got" \
        || fail "dtrain $cmd $opt <TAB>: '$got', --help lists '$list'"
    done < <("$PREFIX/bin/dtrain" "$cmd" --help | sed -n 's/^  \(--[a-z0-9-]*\) \([a-z0-9_]*|[a-z0-9_|]*\)$/\1 \2/p')
  done
else
  fail "share/bash-completion/completions/dtrain not installed"
fi

# the zsh completion, generated from the same table: zsh reads it; compinit
# registers it for dtrain and the launchers; and, with _arguments and compadd
# standing in for zsh's own, what it hands them after `mpirun -np 2`
ZSH_COMPLETION=$PREFIX/share/zsh/site-functions/_dtrain
if [[ ! -f $ZSH_COMPLETION ]]; then
  fail "share/zsh/site-functions/_dtrain not installed"
elif ! command -v zsh >/dev/null; then
  fail "zsh is not installed (scripts/install-deps.sh installs it)"
else
  pass "installed share/zsh/site-functions/_dtrain"
  zsh -n "$ZSH_COMPLETION" 2>"$TMP/zsh.err" && pass "zsh -n _dtrain" || fail "zsh -n: $(cat "$TMP/zsh.err")"
  got=$(HOME=$TMP zsh -f -c 'fpath=("$1" $fpath); autoload -Uz compinit; compinit -u -D
        print -r -- $_comps[dtrain] $_comps[mpirun] $_comps[srun]' _ "$(dirname "$ZSH_COMPLETION")" 2>&1)
  [[ $got == "_dtrain _dtrain _dtrain" ]] && pass "compinit: _dtrain completes dtrain, mpirun, srun" \
    || fail "compinit: '$got'"
  # zsh_words SERVICE WORDS...: the calls the completion makes for the last word
  zsh_words() {
    zsh -f -c 'source_file=$1; service=$2; shift 2; words=("$@"); CURRENT=$#
      _arguments() { print -r -l -- "_arguments" "$@"; }
      compadd() { print -r -- "compadd $*"; }
      _alternative() { print -r -- "_alternative"; }
      source "$source_file"' _ "$ZSH_COMPLETION" "$@"
  }
  got=$(zsh_words mpirun mpirun -np 2 dtrain train --opt)
  grep -qx "'\?--optimizer=\[.*\]:NAME:(sgd .*adam .*)'\?" <<<"$got" \
    && [[ $(head -1 <<<"$got") == _arguments ]] \
    && pass "zsh, mpirun -np 2 dtrain train --opt: train's options, --optimizer with its names" \
    || fail "zsh after mpirun: $(head -5 <<<"$got") ... $(grep -- --optimizer <<<"$got")"
  got=$(zsh_words srun srun -n 2 dtrain "")
  [[ $got == "compadd -- train eval cv predict inspect bench convert plot help completion --help --help-all --version" ]] \
    && pass "zsh, srun -n 2 dtrain <TAB>: the commands" || fail "zsh after srun: '$got'"
  got=$(zsh_words dtrain dtrain train --metrics "")
  grep -q "^--metrics=\[.*\]:LIST:_values -s , metrics auc accuracy f1 log_loss rmse mae r2$" <<<"$got" \
    && pass "zsh: --metrics is a list (_values -s ,: each name once)" || fail "zsh --metrics: $(grep -- --metrics <<<"$got")"
  # every option of every command's --help is in its _arguments, and no other
  for cmd in train eval cv predict inspect bench convert plot; do
    want=$("$PREFIX/bin/dtrain" "$cmd" --help | sed -n 's/^  \(--[a-z0-9-]*\).*/\1/p' | sort -u | paste -sd' ')
    got=$(zsh_words dtrain dtrain "$cmd" -- | sed -n 's/^[*]\{0,1\}\(--[a-z0-9-]*\).*/\1/p' | grep -v '^--help$' | sort -u | paste -sd' ')
    [[ -n $want && $got == "$want" ]] && pass "zsh: dtrain $cmd: all $(wc -w <<<"$want") options" \
      || fail "zsh: dtrain $cmd: '$got', --help has '$want'"
  done
fi

# run_example NAME BINARY: 2 ranks, exit 0 and the "ok:" line
run_example() {
  local name=$1 bin=$2
  timeout -k 5 240 mpirun --oversubscribe -np 2 "$bin" "$TMP/$name.h5" >"$TMP/$name.out" 2>"$TMP/$name.err"
  local st=$?
  if [[ $st -eq 0 ]] && grep -q '^ok: saved' "$TMP/$name.out"; then
    pass "$name: $(grep '^ok:' "$TMP/$name.out")"
  else
    fail "$name: exit $st: $(tail -3 "$TMP/$name.out") $(grep -v '^--\|^$' "$TMP/$name.err" | head -5)"
  fi
}

# 1. pkg-config, shared and static
export PKG_CONFIG_PATH=$LIBDIR/pkgconfig
CFLAGS_STRICT="-std=c11 -O2 -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes"
if cc $CFLAGS_STRICT "$SRC/tests/embed/surrogate.c" -o "$TMP/pc_shared" \
     $(pkg-config --cflags --libs dtrain) -Wl,-rpath,"$LIBDIR" -lm 2>"$TMP/cc.err"; then
  pass "pkg-config: built against libdtrain.so"
  # (grep reads a here-string: grep -q on a pipe may stop before ldd has
  # written everything, and pipefail then counts ldd's SIGPIPE as a failure)
  grep -q "$LIBDIR/libdtrain.so" <<<"$(ldd "$TMP/pc_shared")" && pass "pc_shared uses the installed libdtrain.so" \
    || fail "pc_shared does not load $LIBDIR/libdtrain.so: $(ldd "$TMP/pc_shared" | grep dtrain)"
  run_example pc_shared "$TMP/pc_shared"
else
  fail "pkg-config shared build: $(head -5 "$TMP/cc.err")"
fi
static_libs=$(pkg-config --static --libs dtrain | sed 's/-ldtrain\b/-l:libdtrain.a/')
if cc $CFLAGS_STRICT "$SRC/tests/embed/surrogate.c" -o "$TMP/pc_static" \
     $(pkg-config --cflags dtrain) $static_libs 2>"$TMP/cc.err"; then
  pass "pkg-config --static: built against libdtrain.a"
  ! grep -q libdtrain <<<"$(ldd "$TMP/pc_static")" && pass "pc_static has no libdtrain.so" \
    || fail "pc_static loads libdtrain.so"
  run_example pc_static "$TMP/pc_static"
else
  fail "pkg-config static build: $(head -5 "$TMP/cc.err")"
fi

# 2. find_package(dtrain)
if cmake -S "$SRC/tests/embed" -B "$TMP/embed" -DCMAKE_PREFIX_PATH="$PREFIX" \
     -DCMAKE_C_FLAGS="-Wall -Wextra -Werror" >"$TMP/cmake.log" 2>&1 &&
   cmake --build "$TMP/embed" >>"$TMP/cmake.log" 2>&1; then
  pass "find_package(dtrain): built"
  run_example cmake_shared "$TMP/embed/surrogate"
  run_example cmake_static "$TMP/embed/surrogate_static"
else
  fail "find_package build: $(tail -10 "$TMP/cmake.log")"
fi

# the example's model is a model like any other to the installed command
if [[ -f $TMP/cmake_shared.h5 ]]; then
  if timeout -k 5 60 mpirun -np 1 "$PREFIX/bin/dtrain" inspect "$TMP/cmake_shared.h5" >"$TMP/i" 2>&1; then
    pass "dtrain inspect reads the example's model"
  else
    fail "dtrain inspect: $(head -3 "$TMP/i")"
  fi
fi

# The Python package (docs/python.md): under this prefix (neither /usr nor
# /usr/local) in lib/python3.X/site-packages, with a _libpath.py naming the
# installed library.  Imported from the prefix alone (no build tree on the
# path, run from elsewhere), it loads that library, and predicts with the C
# example's model what the installed dtrain predict writes, bit for bit.
PY=${DTRAIN_PYTHON:-/usr/bin/python3}
pyver=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)
PYDIR=$PREFIX/lib/python$pyver/site-packages
# libpath DIR: the library DIR/_libpath.py names, resolved
libpath() {
  "$PY" -c 'import os, runpy, sys
d = sys.argv[1]
print(os.path.realpath(os.path.join(d, runpy.run_path(os.path.join(d, "_libpath.py"))["LIBRARY"])))' "$1"
}
if [[ -z $pyver ]]; then
  fail "DTRAIN_PYTHON ($PY) does not run"
else
  for f in __init__.py _lib.py _estimator.py _data.py _libpath.py; do
    [[ -f $PYDIR/dtrain/$f ]] && pass "installed lib/python$pyver/site-packages/dtrain/$f" \
      || fail "lib/python$pyver/site-packages/dtrain/$f not installed"
  done
  got=$(libpath "$PYDIR/dtrain" 2>&1)
  [[ $got == "$(realpath "$LIBDIR/libdtrain.so.0")" ]] && pass "its _libpath.py names the installed $got" \
    || fail "its _libpath.py names '$got', not $LIBDIR/libdtrain.so.0"
  # the prefix's python directory is Debian python3's for /usr and /usr/local
  # (DESTDIR: the same as installed there, staged)
  for p in /usr:/usr/lib/python3/dist-packages /usr/local:/usr/local/lib/python$pyver/dist-packages; do
    if DESTDIR=$TMP/stage cmake --install "$BUILD" --prefix "${p%%:*}" >"$TMP/stage.log" 2>&1 &&
       [[ -f $TMP/stage${p#*:}/dtrain/__init__.py ]] &&
       [[ $(libpath "$TMP/stage${p#*:}/dtrain") == "$(realpath "$(find "$TMP/stage${p%%:*}" -name libdtrain.so.0 | head -1)")" ]]; then
      pass "--prefix ${p%%:*}: the package in ${p#*:}, naming the prefix's library"
    else
      fail "--prefix ${p%%:*}: no package in ${p#*:} naming the prefix's library: $(grep -i python "$TMP/stage.log" | head -3)"
    fi
    rm -rf "$TMP/stage"
  done
  if ! "$PY" -c 'import numpy, mpi4py, h5py' 2>/dev/null; then
    if [[ ${CI:-} == true ]]; then
      fail "$PY lacks numpy, mpi4py or h5py (scripts/install-deps.sh installs them)"
    else
      echo "skip: the installed package's import: $PY lacks numpy, mpi4py or h5py (scripts/install-deps.sh)"
    fi
  elif [[ ! -f $TMP/cmake_shared.h5 ]]; then
    fail "no model from the C example to predict with"
  else
    cat >"$TMP/installed.py" <<'EOF'
import os, sys
import numpy as np
import dtrain
prefix, model, data, out = sys.argv[1:5]
prefix = os.path.realpath(prefix) + "/"
where = os.path.realpath(dtrain.__file__)
assert where.startswith(prefix), "imported " + where
libs = {l.split()[-1] for l in open("/proc/self/maps") if "libdtrain" in l}
assert libs and all(os.path.realpath(p).startswith(prefix) for p in libs), "loaded %s" % libs
est = dtrain.load(model)
X = np.random.default_rng(1).uniform(-1, 1, (40, est.n_features_in_)).astype(np.float32)
dtrain.write_data(data, X)
np.save(out, est.predict(X))
print("%s from %s, %d features" % (type(est).__name__, os.path.relpath(where, prefix), est.n_features_in_))
EOF
    if (cd "$TMP" && env -u DTRAIN_LIBRARY PYTHONPATH="$PYDIR" timeout -k 5 120 "$PY" "$TMP/installed.py" \
          "$PREFIX" "$TMP/cmake_shared.h5" "$TMP/pts.h5" "$TMP/py_pred.npy") >"$TMP/py.out" 2>&1; then
      pass "the installed package imports and loads the installed library: $(tail -1 "$TMP/py.out")"
      if timeout -k 5 60 mpirun -np 1 "$PREFIX/bin/dtrain" predict --model "$TMP/cmake_shared.h5" \
           --data "$TMP/pts.h5" --group /train --out "$TMP/cli_pred.h5" >"$TMP/p" 2>&1 &&
         "$PY" -c 'import sys, h5py, numpy as np
a = np.load(sys.argv[1]); b = h5py.File(sys.argv[2], "r")["predictions"][...]
sys.exit(not (a.size == 40 and np.array_equal(a.ravel(), b.ravel())))' "$TMP/py_pred.npy" "$TMP/cli_pred.h5" 2>>"$TMP/p"; then
        pass "its predictions equal the installed dtrain predict's, bit for bit"
      else
        fail "the package's predictions against dtrain predict's: $(tail -5 "$TMP/p")"
      fi
    else
      fail "the installed package: $(tail -5 "$TMP/py.out")"
    fi
  fi
fi
finish
