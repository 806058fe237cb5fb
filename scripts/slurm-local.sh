#!/bin/bash
# A throwaway single-node Slurm cluster on this machine (munged, slurmctld,
# slurmd from Debian's munge and slurm-wlm), for the test that runs the
# examples/slurm job array. Everything lives in one directory: the config,
# a fresh munge key, state, spool, logs and PID files; nothing in /etc.
#
#   scripts/slurm-local.sh start DIR   writes DIR/slurm.conf, starts the
#                                      daemons, waits until the node is idle
#   scripts/slurm-local.sh stop DIR    cancels DIR's jobs and stops each
#                                      daemon by the PID it recorded
#
# Point the client commands at the cluster with SLURM_CONF=DIR/slurm.conf.
# start exits 0 when the node takes jobs, 2 when this machine cannot run
# it (not root, a command missing) and 1 when a daemon would not start,
# with one line on stderr saying why; then it stops the daemons it had
# started, and their logs stay in DIR/log.
# The daemons run as root: jobs run as whoever submits them, which here is
# root, and only root can start slurmd.
set -uo pipefail

# Says why and exits; a start that fails stops what it had started.
slurm_die() { # code message...
    local code=$1
    shift
    echo "slurm-local: $*" >&2
    [ -z "${slurm_started:-}" ] || slurm_stop "$slurm_started"
    exit "$code"
}

# A TCP port nobody listens on: bash's /dev/tcp fails to connect.
slurm_free_port() {
    local p
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 30000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# Waits up to $2 tenths of a second for command $1 (a string) to succeed.
slurm_wait() {
    for _ in $(seq 1 "$2"); do
        eval "$1" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# The last line daemon $1 logged in slurm_start's $dir (its error, when it
# would not start), or printed before it had a log.
slurm_last() {
    tail -n 1 "$dir/log/$1.log" 2>/dev/null ||
        tail -n 1 "$dir/log/$1.out" 2>/dev/null
}

# The PID a daemon wrote, if it is still running.
slurm_pid() {
    local pid
    [ -s "$1" ] || return 1
    pid=$(cat "$1")
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

slurm_start() {
    local dir=$1 host node ctld_port d_port key sock
    [ "$(id -u)" -eq 0 ] ||
        slurm_die 2 "not root: slurmd runs jobs as their user and needs root"
    for c in munged mungekey slurmctld slurmd sbatch scontrol sinfo; do
        command -v "$c" >/dev/null 2>&1 ||
            slurm_die 2 "'$c' not found (Debian: apt-get install" \
                "slurm-wlm munge)"
    done
    mkdir -p "$dir" || slurm_die 1 "cannot create '$dir'"
    dir=$(cd "$dir" && pwd)
    mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log"
    slurm_started=$dir
    # munged refuses a socket directory or key that others may write, and
    # wants the socket's directory searchable.
    chmod 711 "$dir" "$dir/munge"
    key=$dir/munge/munge.key
    sock=$dir/munge/munge.socket
    # A Unix socket's path has room for 107 bytes, and munged adds a suffix.
    [ "${#sock}" -le 96 ] ||
        slurm_die 1 "'$dir' is too long a path for munge's socket"
    mungekey --create --keyfile="$key" >/dev/null 2>&1 ||
        slurm_die 1 "mungekey cannot create '$key'"
    # --force: a warning, not a refusal, where a parent of DIR is writable
    # by others (a shared TMPDIR without the sticky bit).
    munged --force --key-file="$key" --socket="$sock" \
        --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" \
        --seed-file="$dir/munge/munged.seed" </dev/null >/dev/null 2>&1 ||
        slurm_die 1 "munged would not start: $(slurm_last munged)"
    slurm_wait "munge -S '$sock' -n </dev/null | unmunge -S '$sock'" 50 ||
        slurm_die 1 "munged does not answer on '$sock'"

    host=$(hostname -s)
    # The node as slurmd sees it (CPUs, sockets, memory): a node configured
    # larger than it is would be drained.
    node=$(slurmd -C 2>/dev/null | sed -n 's/^NodeName=[^ ]* //p')
    [ -n "$node" ] || slurm_die 1 "slurmd -C cannot describe this node"
    if ! ctld_port=$(slurm_free_port) || ! d_port=$(slurm_free_port); then
        slurm_die 1 "no free TCP port for slurmctld and slurmd"
    fi
    [ "$ctld_port" != "$d_port" ] || d_port=$((ctld_port + 1))

    # proctrack/linuxproc and task/none: no cgroup plugin, so it runs on any
    # cgroup layout, in containers and VMs alike.
    cat >"$dir/slurm.conf" <<EOF
ClusterName=concbench-local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SchedulerType=sched/builtin
MinJobAge=600
SlurmdTimeout=30
NodeName=$host NodeAddr=127.0.0.1 $node State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    export SLURM_CONF=$dir/slurm.conf
    slurmctld -c -i -f "$SLURM_CONF" </dev/null \
        >"$dir/log/slurmctld.out" 2>&1 ||
        slurm_die 1 "slurmctld would not start: $(slurm_last slurmctld)"
    slurm_wait "scontrol ping | grep -q UP" 100 ||
        slurm_die 1 "slurmctld does not answer: $(slurm_last slurmctld)"
    slurmd -f "$SLURM_CONF" -N "$host" </dev/null >"$dir/log/slurmd.out" 2>&1 ||
        slurm_die 1 "slurmd would not start: $(slurm_last slurmd)"
    slurm_wait "sinfo -h -n '$host' -o %t | grep -qx idle" 150 ||
        slurm_die 1 "node '$host' is not idle ($(sinfo -h -n "$host" \
            -o '%t %E' 2>&1)): $(slurm_last slurmd)"
    slurm_started=
}

slurm_stop() {
    local dir=$1 pid pids=()
    [ -d "$dir" ] || return 0
    # The jobs first, so that no job step outlives its slurmd.
    if slurm_pid "$dir/slurmctld.pid" >/dev/null; then
        export SLURM_CONF=$dir/slurm.conf
        scancel --full --quiet --user="$(id -un)" 2>/dev/null
        # shellcheck disable=SC2016 # slurm_wait evaluates it, each time
        slurm_wait '[ -z "$(squeue -h -t running,completing)" ]' 50
    fi
    # All at once (each takes a second or two to finish), then SIGKILL for
    # whichever is still there after 10 s.
    for f in slurmd.pid slurmctld.pid munge/munged.pid; do
        pid=$(slurm_pid "$dir/$f") || continue
        pids+=("$pid")
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${pids[@]}"; do
        slurm_wait "! kill -0 $pid" 100 || kill -KILL "$pid" 2>/dev/null
    done
    return 0
}

[ $# -eq 2 ] || slurm_die 2 "usage: slurm-local.sh start|stop DIR"
case $1 in
start) slurm_start "$2" ;;
stop) slurm_stop "$2" ;;
*) slurm_die 2 "usage: slurm-local.sh start|stop DIR" ;;
esac
