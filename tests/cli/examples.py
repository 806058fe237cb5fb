#!/usr/bin/python3
"""Runs the recipes of examples/ as their engines would, for 640-examples.

Each recipe's scripts run for real (bash or sh, as the engine runs them),
with the variables the engine sets (a Slurm array task's SLURM_ARRAY_*, a
Kubernetes Indexed Job's JOB_COMPLETION_INDEX, a GitHub Actions matrix),
but concbench is a wrapper (tools/concbench): a sweep goes through
concbench's own parser with --dry-run, under that environment, and then a
tiny stand-in sweep with the same --shard writes a real report where the
recipe said, so the recipe's merge has its shards; merge and compare run as
they are. The build (make), the package manager (apt-get), git and
bench/regress.sh are test doubles: they do what the recipe needs of them
(put the binary where make would, make a worktree's directory) and record
what they were asked. Every call lands in LOG, one tab-separated line:
file, subcommand, exit code, the shard a sweep resolved ("-": none), the
arguments.

usage: examples.py check-yaml EXAMPLES_DIR
       examples.py build-packages DEPS_SH FILE...
       examples.py commands FILE...
       examples.py github WORK LOG WORKFLOW.yml
       examples.py kubernetes WORK LOG MANIFEST.yaml...
       examples.py slurm WORK LOG ARRAY.sbatch AFTER.sbatch [--array SPEC]
                   [--job ID] [VAR=VALUE...]

CONCBENCH (the real binary) and REPO (the repository) must be set. Exits 0
when every step ended as it should, 1 naming the step otherwise, 2 on bad
use or a recipe this runner does not understand.
"""
import glob
import itertools
import os
import re
import shutil
import stat
import subprocess
import sys

import yaml

REAL = os.environ.get("CONCBENCH", "")
REPO = os.environ.get("REPO", "")

# What a concbench command line looks like in a script: the binary by any
# path or variable ("./concbench", "${CONCBENCH:-./concbench}", a bare
# "concbench" on PATH), then its subcommand.
COMMAND_RE = re.compile(r'concbench\}?"?\s+(sweep|merge|compare|run|list|'
                        r'serve)\b')

WRAPPER = r'''#!/bin/bash
# concbench as the examples' jobs see it (tests/cli/examples.py).
set -u
sub=${1-}
[ $# -gt 0 ] && shift
record() { # rc shard args...
    local rc=$1 shard=$2
    shift 2
    printf '%s\t%s\t%s\t%s\t%s\n' "${EX_FILE:-?}" "$sub" "$rc" "$shard" \
        "$*" >>"$EX_LOG"
}
case $sub in
sweep)
    dry=0 shard= json= prev=
    for a in "$@"; do
        case $prev in --shard) shard=$a ;; --json) json=$a ;; esac
        case $a in
        --dry-run) dry=1 ;;
        --shard=*) shard=${a#--shard=} ;;
        --json=*) json=${a#--json=} ;;
        esac
        prev=$a
    done
    if [ "$dry" = 1 ]; then
        out=$("$EX_REAL" sweep "$@")
    else
        out=$("$EX_REAL" sweep --dry-run "$@")
    fi
    rc=$?
    [ -z "$out" ] || printf '%s\n' "$out"
    got=$(printf '%s\n' "$out" |
        sed -n 's|^shard \([0-9]*/[0-9]*\)[ :].*|\1|p')
    record "$rc" "${got:--}" "$@"
    [ "$rc" -eq 0 ] || exit "$rc"
    # The report the real sweep would write, from a matrix that takes
    # milliseconds, sliced alike.
    if [ "$dry" = 0 ] && [ -n "$json" ] && [ "$json" != - ]; then
        "$EX_REAL" sweep -m sequential -w sleep -t 1,2,3,4,5,6,7,8 -r 1 \
            --warmup 0 -o ms=0 ${shard:+--shard "$shard"} --json "$json" \
            >/dev/null 2>&1 || exit
    fi
    exit 0
    ;;
*)
    "$EX_REAL" "$sub" "$@"
    rc=$?
    record "$rc" - "$@"
    exit "$rc"
    ;;
esac
'''

STUBS = {
    # make: the binary where make puts it (build/concbench, and the
    # ./concbench link), in the directory of -C.
    "make": r'''#!/bin/bash
dir=.
while [ $# -gt 0 ]; do
    case $1 in -C) dir=$2; shift ;; -C*) dir=${1#-C} ;; esac
    shift
done
printf '%s\tmake\t0\t-\t%s\n' "${EX_FILE:-?}" "$dir" >>"$EX_LOG"
mkdir -p "$dir/build" &&
    ln -sf "$EX_TOOLS/concbench" "$dir/build/concbench" &&
    ln -sfn build/concbench "$dir/concbench"
''',
    "apt-get": r'''#!/bin/bash
printf '%s\tapt-get\t0\t-\t%s\n' "${EX_FILE:-?}" "$*" >>"$EX_LOG"
''',
    # git worktree add DIR REF: the directory; anything else: nothing.
    "git": r'''#!/bin/bash
printf '%s\tgit\t0\t-\t%s\n' "${EX_FILE:-?}" "$*" >>"$EX_LOG"
if [ "${1-}" = worktree ] && [ "${2-}" = add ]; then
    mkdir -p "$3"
fi
''',
    "sudo": '#!/bin/sh\nexec "$@"\n',
}

# bench/regress.sh's suite takes minutes: its double parses the same
# options (checked against the real script) and hands the rest to compare,
# as it does, over two stand-in reports.
REGRESS = r'''#!/bin/bash
cd "$(dirname "$0")/.." || exit 2
CONCBENCH=${CONCBENCH:-./concbench}
against=
rest=()
while [ $# -gt 0 ]; do
    case $1 in
    --update) ;;
    --against)
        [ $# -ge 2 ] || exit 2
        against=$2
        shift
        ;;
    -h | --help) exit 0 ;;
    *) rest+=("$1") ;;
    esac
    shift
done
for bin in "$CONCBENCH" ${against:+"$against"}; do
    [ -x "$bin" ] || { echo "regress.sh: '$bin' is not built" >&2; exit 2; }
done
"$CONCBENCH" compare "$EX_STANDIN_BASE" "$EX_STANDIN_NEW" "${rest[@]}"
'''
REGRESS_OPTIONS = ["--update", "--against", "-h | --help", "*"]


class Failed(Exception):
    pass


class Unsupported(Exception):
    pass


def write_exec(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP |
             stat.S_IXOTH)


def tools(work, log):
    """The wrapper and the doubles in WORK/tools; the environment for them."""
    d = os.path.join(work, "tools")
    os.makedirs(d, exist_ok=True)
    write_exec(os.path.join(d, "concbench"), WRAPPER)
    for name, text in STUBS.items():
        write_exec(os.path.join(d, name), text)
    env = dict(os.environ)
    # The recipes' own CONCBENCH (the sbatch files read it) is the wrapper
    # where they are given one, never the real binary this runner got.
    env.pop("CONCBENCH", None)
    env.update(EX_REAL=REAL, EX_LOG=os.path.abspath(log), EX_TOOLS=d,
               PATH=d + ":" + os.environ.get("PATH", "/usr/bin:/bin"))
    return env


def run(argv, cwd, env, what, ok=(0,)):
    sys.stdout.flush()
    rc = subprocess.run(argv, cwd=cwd, env=env).returncode
    if rc not in ok:
        raise Failed("%s exited %d" % (what, rc))
    return rc


def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def check_yaml(root):
    """Every YAML file under root parses, in the shape its engine reads."""
    files = sorted(glob.glob(os.path.join(root, "**", "*.y*ml"),
                             recursive=True))
    if not files:
        raise Failed("no YAML file under %s" % root)
    for path in files:
        try:
            docs = load_all(path)
        except yaml.YAMLError as e:
            raise Failed("%s is not well-formed YAML: %s" % (path, e))
        if not docs:
            raise Failed("%s is empty" % path)
        for d in docs:
            if not isinstance(d, dict):
                raise Failed("%s: a document is not a mapping" % path)
            if "jobs" in d:
                # PyYAML reads YAML 1.1, where the key `on` is true.
                if "on" not in d and True not in d:
                    raise Failed("%s: a workflow without 'on'" % path)
                for name, job in d["jobs"].items():
                    if "runs-on" not in job or not job.get("steps"):
                        raise Failed("%s: job %s lacks runs-on or steps" %
                                     (path, name))
            elif "apiVersion" in d:
                if not d.get("kind") or not d.get("metadata", {}).get("name"):
                    raise Failed("%s: a manifest without kind or name" % path)
            else:
                raise Failed("%s: neither a workflow nor a manifest" % path)
        print("%s: %d document%s" % (path, len(docs),
                                     "" if len(docs) == 1 else "s"))


def build_packages(deps_sh):
    """scripts/deps.sh's first list: what the build needs."""
    text = open(deps_sh).read()
    m = re.search(r'^pkgs="([^"]*)"', text, re.M)
    if not m:
        raise Unsupported("no pkgs=\"...\" in %s" % deps_sh)
    return m.group(1).split()


def check_packages(deps_sh, files):
    """Each apt-get install in files installs the build's packages."""
    want = build_packages(deps_sh)
    for path in files:
        text = re.sub(r"\\\n", " ", open(path).read())
        lines = [l for l in text.splitlines() if "apt-get install" in l]
        if not lines:
            raise Failed("%s installs nothing with apt-get" % path)
        for line in lines:
            have = set(line.split())
            missing = [p for p in want if p not in have]
            if missing:
                raise Failed("%s installs without %s (scripts/deps.sh's "
                             "build list)" % (path, " ".join(missing)))
        print("%s: installs %s" % (path, " ".join(want)))


def scripts_of(path):
    """The shell text of a recipe: run steps, container commands, a file."""
    if not re.search(r"\.ya?ml$", path):
        return [l for l in open(path).read().splitlines()
                if not l.lstrip().startswith("#")]
    out = []
    for d in load_all(path):
        for job in (d.get("jobs") or {}).values():
            for step in job.get("steps", []):
                if "run" in step:
                    out += str(step["run"]).splitlines()
        spec = (d.get("spec") or {}).get("template", {}).get("spec", {})
        for c in spec.get("containers", []):
            for word in c.get("command", []) + c.get("args", []):
                out += str(word).splitlines()
    return [l for l in out if not l.lstrip().startswith("#")]


def commands(paths):
    """The concbench subcommands each file's scripts invoke, one a line."""
    for path in paths:
        subs = set()
        for line in scripts_of(path):
            subs.update(COMMAND_RE.findall(line))
            if "bench/regress.sh" in line:
                subs.add("compare")
        for s in sorted(subs):
            print("%s\t%s" % (path, s))


def check_regress_double():
    """The double of bench/regress.sh parses the options it parses."""
    text = open(os.path.join(REPO, "bench", "regress.sh")).read()
    m = re.search(r"while \[ \$# -gt 0 \]; do\n\s*case \$1 in\n(.*?)\n\s*esac",
                  text, re.S)
    if not m:
        raise Unsupported("bench/regress.sh: its option loop moved")
    arms = re.findall(r"^\s*([^\s(][^)\n]*)\)", m.group(1), re.M)
    if arms != REGRESS_OPTIONS:
        raise Unsupported("bench/regress.sh's options are now %s, its test "
                          "double's %s: update examples.py" %
                          (arms, REGRESS_OPTIONS))


def checkout(ws):
    """actions/checkout: the repository, with bench/regress.sh's double."""
    os.makedirs(ws, exist_ok=True)
    for name in os.listdir(REPO):
        if name in (".git", "build", "concbench", "bench") or \
           name.startswith("build-"):
            continue
        os.symlink(os.path.join(REPO, name), os.path.join(ws, name))
    os.makedirs(os.path.join(ws, "bench"))
    for name in os.listdir(os.path.join(REPO, "bench")):
        if name != "regress.sh":
            os.symlink(os.path.join(REPO, "bench", name),
                       os.path.join(ws, "bench", name))
    check_regress_double()
    write_exec(os.path.join(ws, "bench", "regress.sh"), REGRESS)


EXPR_RE = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


def subst(text, matrix, where):
    """${{ matrix.X }}: its value; any other expression is unsupported."""
    def one(m):
        expr = m.group(1)
        if expr.startswith("matrix.") and expr[7:] in matrix:
            return str(matrix[expr[7:]])
        raise Unsupported("%s: expression '%s' (only matrix.* here)" %
                          (where, expr))
    return EXPR_RE.sub(one, text)


def job_order(jobs):
    done, order = set(), []
    while len(order) < len(jobs):
        ready = [n for n, j in jobs.items() if n not in done and
                 all(x in done for x in _needs(j))]
        if not ready:
            raise Unsupported("jobs need each other in a cycle")
        for n in ready:
            done.add(n)
            order.append(n)
    return order


def _needs(job):
    n = job.get("needs", [])
    return [n] if isinstance(n, str) else n


def shell_argv(shell, script):
    if shell in (None, "bash"):
        return ["bash", "--noprofile", "--norc", "-eo", "pipefail", script]
    if shell == "sh":
        return ["sh", "-e", script]
    raise Unsupported("shell '%s'" % shell)


def standins(work, env):
    """Two small reports for a compare that has no real ones."""
    paths = []
    for name in ("standin-base.json", "standin-new.json"):
        p = os.path.join(work, name)
        run([REAL, "sweep", "-m", "sequential", "-w", "sleep", "-t", "1,2",
             "-r", "5", "--warmup", "0", "-o", "ms=1ms", "--json", p],
            work, env, "the stand-in sweep for compare", ok=(0, 1))
        paths.append(p)
    return paths


def github(work, log, path):
    wf = load_all(path)[0]
    env0 = tools(work, log)
    env0["EX_FILE"] = path
    env0["EX_STANDIN_BASE"], env0["EX_STANDIN_NEW"] = standins(work, env0)
    store = os.path.join(work, "artifacts")
    os.makedirs(store, exist_ok=True)
    shell0 = (wf.get("defaults") or {}).get("run", {}).get("shell")
    for name in job_order(wf["jobs"]):
        job = wf["jobs"][name]
        matrix = (job.get("strategy") or {}).get("matrix") or {}
        if "include" in matrix or "exclude" in matrix:
            raise Unsupported("%s: matrix include/exclude" % name)
        keys = list(matrix)
        for n, combo in enumerate(itertools.product(*[matrix[k]
                                                      for k in keys])):
            m = dict(zip(keys, combo))
            home = os.path.join(work, "%s-%d" % (name, n))
            ws = os.path.join(home, "ws")
            temp = os.path.join(home, "tmp")
            os.makedirs(ws)
            os.makedirs(temp)
            env = dict(env0)
            env.update({k: str(v) for k, v in (wf.get("env") or {}).items()})
            env.update({k: str(v) for k, v in (job.get("env") or {}).items()})
            env.update(GITHUB_WORKSPACE=ws, RUNNER_TEMP=temp, CI="true",
                       GITHUB_BASE_REF="main", GITHUB_HEAD_REF="topic",
                       GITHUB_STEP_SUMMARY=os.path.join(home, "summary.md"))
            shell = ((job.get("defaults") or {}).get("run", {})
                     .get("shell", shell0))
            for i, step in enumerate(job["steps"]):
                where = "%s job %s%s step %d" % (path, name,
                                                 " %s" % m if m else "", i + 1)
                if "uses" in step:
                    uses(step, m, ws, store, where)
                    continue
                script = os.path.join(home, "step-%d.sh" % (i + 1))
                with open(script, "w") as f:
                    f.write(subst(str(step["run"]), m, where))
                print("== %s: %s" % (where, step.get("name", step["run"])
                                     .splitlines()[0]))
                senv = dict(env)
                senv.update({k: str(v) for k, v in
                             (step.get("env") or {}).items()})
                # compare's verdicts (1: slower, 4: inconclusive) are
                # outcomes of the measurement, not of the command line.
                ok = (0, 1, 4) if re.search(r"compare|regress\.sh",
                                            step["run"]) else (0,)
                run(shell_argv(step.get("shell", shell), script),
                    os.path.join(ws, step.get("working-directory", ".")),
                    senv, where, ok)
                if "GITHUB_STEP_SUMMARY" in step["run"] and \
                   os.path.getsize(senv["GITHUB_STEP_SUMMARY"]) == 0:
                    raise Failed("%s wrote no job summary" % where)


def uses(step, m, ws, store, where):
    action = step["uses"].split("@")[0]
    w = {k: subst(str(v).lower() if isinstance(v, bool) else str(v), m,
                  where) for k, v in (step.get("with") or {}).items()}
    if action == "actions/checkout":
        checkout(ws)
    elif action == "actions/upload-artifact":
        files = glob.glob(os.path.join(ws, w["path"]))
        if not files:
            raise Failed("%s: nothing to upload at '%s'" % (where, w["path"]))
        d = os.path.join(store, w["name"])
        os.makedirs(d, exist_ok=True)
        for f in files:
            shutil.copy(f, d)
    elif action == "actions/download-artifact":
        names = [w["name"]] if "name" in w else \
            [os.path.basename(p) for p in
             glob.glob(os.path.join(store, w.get("pattern", "*")))]
        for n in names:
            dest = ws if w.get("merge-multiple") == "true" or "name" in w \
                else os.path.join(ws, n)
            os.makedirs(dest, exist_ok=True)
            for f in glob.glob(os.path.join(store, n, "*")):
                shutil.copy(f, dest)
    else:
        raise Unsupported("%s: action %s" % (where, action))


def kubernetes(work, log, paths):
    env0 = tools(work, log)
    docs = [(p, d) for p in paths for d in load_all(p)]
    claims = {d["metadata"]["name"] for _, d in docs
              if d["kind"] == "PersistentVolumeClaim"}
    jobs = [(p, d) for p, d in docs if d["kind"] == "Job"]
    # The Indexed Job first, as the recipe applies the merge after it.
    jobs.sort(key=lambda pd: pd[1]["spec"].get("completionMode") !=
              "Indexed")
    for path, job in jobs:
        spec = job["spec"]
        pod = spec["template"]["spec"]
        vols = {}
        for v in pod.get("volumes", []):
            claim = v["persistentVolumeClaim"]["claimName"]
            if claim not in claims:
                raise Failed("%s: claim %s is not in the manifests" %
                             (path, claim))
            vols[v["name"]] = os.path.join(work, "volumes", claim)
            os.makedirs(vols[v["name"]], exist_ok=True)
        indexed = spec.get("completionMode") == "Indexed"
        for c in pod["containers"]:
            mounts = [(mt["mountPath"], vols[mt["name"]])
                      for mt in c.get("volumeMounts", [])]
            env = dict(env0)
            env["EX_FILE"] = path
            for e in c.get("env", []):
                if "value" not in e:
                    raise Unsupported("%s: env %s without a value" %
                                      (path, e["name"]))
                env[e["name"]] = str(e["value"])
            argv = [kube_expand(str(w), env, mounts)
                    for w in c.get("command", []) + c.get("args", [])]
            if not argv:
                raise Unsupported("%s: a container without a command" % path)
            if argv[0] in ("/bin/sh", "/bin/bash"):
                argv[0] = os.path.basename(argv[0])
            for idx in range(spec.get("completions", 1)) if indexed \
                    else [None]:
                cwd = os.path.join(work, "pod-%s-%s" %
                                   (job["metadata"]["name"], idx))
                os.makedirs(cwd)
                penv = dict(env)
                if idx is not None:
                    penv["JOB_COMPLETION_INDEX"] = str(idx)
                where = "%s job %s%s" % (path, job["metadata"]["name"],
                                         "" if idx is None else
                                         " index %d" % idx)
                print("== " + where)
                run(argv, cwd, penv, where)


def kube_expand(word, env, mounts):
    """$(VAR) as the kubelet expands it; a mount's path to its volume."""
    word = re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                  lambda m: env.get(m.group(1), m.group(0)), word)
    for path, vol in mounts:
        word = re.sub(re.escape(path) + r"(?=/|\b|$)", vol, word)
    return word


def slurm_ids(spec):
    """An --array spec ("1-8", "3,5", "0-15:2") as its indices and step."""
    ids, step = [], 1
    for part in spec.split("%")[0].split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+)(?::(\d+))?)?", part)
        if not m:
            raise Unsupported("--array=%s" % spec)
        lo = int(m.group(1))
        hi = int(m.group(2) or lo)
        s = int(m.group(3) or 1)
        if "," not in spec:
            step = s
        ids += range(lo, hi + 1, s)
    return sorted(set(ids)), step


def slurm(work, log, array_sh, after_sh, array=None, job="4242",
          more=()):
    env0 = tools(work, log)
    env0.update(v.split("=", 1) for v in more)
    if array is None:
        m = re.search(r"^#SBATCH --array=(\S+)", open(array_sh).read(), re.M)
        if not m:
            raise Unsupported("%s has no #SBATCH --array" % array_sh)
        array = m.group(1)
    names = array_sh, after_sh
    array_sh, after_sh = os.path.abspath(array_sh), os.path.abspath(after_sh)
    ids, step = slurm_ids(array)
    submit = os.path.join(work, "submit")
    os.makedirs(submit, exist_ok=True)
    common = dict(SLURM_SUBMIT_DIR=submit, CONCBENCH=os.path.join(
        work, "tools", "concbench"))
    for i in ids:
        env = dict(env0, **common)
        env.update(EX_FILE=names[0], SLURM_ARRAY_JOB_ID=job,
                   SLURM_JOB_ID=str(int(job) + 1 + i),
                   SLURM_ARRAY_TASK_ID=str(i),
                   SLURM_ARRAY_TASK_MIN=str(ids[0]),
                   SLURM_ARRAY_TASK_MAX=str(ids[-1]),
                   SLURM_ARRAY_TASK_STEP=str(step),
                   SLURM_ARRAY_TASK_COUNT=str(len(ids)))
        print("== %s, array task %d of %s" % (array_sh, i, array))
        run(["bash", array_sh], submit, env, "%s task %d" % (array_sh, i))
    env = dict(env0, **common)
    env.update(EX_FILE=names[1], SLURM_JOB_ID=str(int(job) + 1000))
    print("== %s %s" % (after_sh, job))
    run(["bash", after_sh, job], submit, env, after_sh)


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, args = argv[1], argv[2:]
    if cmd not in ("check-yaml", "build-packages", "commands") and \
       not (REAL and REPO):
        print("examples.py: set CONCBENCH and REPO", file=sys.stderr)
        return 2
    try:
        if cmd == "check-yaml":
            check_yaml(args[0])
        elif cmd == "build-packages":
            check_packages(args[0], args[1:])
        elif cmd == "commands":
            commands(args)
        elif cmd == "github":
            github(args[0], args[1], args[2])
        elif cmd == "kubernetes":
            kubernetes(args[0], args[1], args[2:])
        elif cmd == "slurm":
            array, job, more, rest = None, "4242", [], args[4:]
            while rest:
                if rest[0] == "--array":
                    array, rest = rest[1], rest[2:]
                elif rest[0] == "--job":
                    job, rest = rest[1], rest[2:]
                else:
                    more, rest = more + [rest[0]], rest[1:]
            slurm(args[0], args[1], args[2], args[3], array, job, more)
        else:
            print("examples.py: unknown command '%s'" % cmd, file=sys.stderr)
            return 2
    except Failed as e:
        print("examples.py: %s" % e, file=sys.stderr)
        return 1
    except Unsupported as e:
        print("examples.py: not understood: %s" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
