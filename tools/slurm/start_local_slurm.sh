#!/usr/bin/env bash
# Stand up a real single-node SLURM cluster on this machine, for trying and testing the
# slurm profile (profiles/slurm) without a site cluster.
#
#   tools/slurm/start_local_slurm.sh [STATE_DIR]     (default: /tmp/juicer-slurm)
#   . STATE_DIR/env.sh                                (points sinfo/sbatch/snakemake at it)
#   snakemake --profile profiles/slurm --workflow-profile none --config sandbox=...
#   tools/slurm/stop_local_slurm.sh [STATE_DIR]
#
# What it does (each step is printed):
#   1. installs `slurm-wlm munge` with apt if a daemon binary is missing (idempotent; root only);
#   2. writes slurm.conf + gres.conf into STATE_DIR: one node (this machine's CPUs, 90% of its
#      memory), partition `debug`, no accounting DB, two fake GPUs (empty files) so `--gres=gpu:1`
#      jobs are schedulable; links /etc/slurm/slurm.conf to it (the plugin's in-job `srun` drops
#      SLURM_CONF, so only the default path works there; refuses if another config is there);
#   3. starts munged (unless one already answers, which is then reused and left alone),
#      slurmctld and slurmd as root, without systemd (PID 1 here is not systemd);
#   4. records the PIDs it started in STATE_DIR/pids (what stop_local_slurm.sh kills, nothing else);
#   5. waits (bounded, SLURM_START_TIMEOUT seconds, default 60) until `sinfo` shows the node idle.
#
# Environment: SLURMCTLD_PORT (6817), SLURMD_PORT (6818) -- pick others to run beside another
# cluster; SLURM_START_TIMEOUT (60).
# Exit codes: 0 up (or already up), 1 failed to come up (logs printed, started daemons stopped),
# 77 SLURM cannot be installed here at all (not root / no apt) -- tests skip on 77.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="${1:-${SLURM_STATE_DIR:-/tmp/juicer-slurm}}"
CTLD_PORT="${SLURMCTLD_PORT:-6817}"
SLURMD_PORT="${SLURMD_PORT:-6818}"
TIMEOUT="${SLURM_START_TIMEOUT:-60}"
PARTITION=debug

say() { echo "[start_local_slurm] $*"; }
die() { echo "[start_local_slurm] ERROR: $*" >&2; exit 1; }
cannot() { echo "[start_local_slurm] CANNOT: $*" >&2; exit 77; }

mkdir -p "$STATE"
STATE="$(cd "$STATE" && pwd)"
CONF="$STATE/slurm.conf"
PIDS="$STATE/pids"
export SLURM_CONF="$CONF"

# ---- already running? -------------------------------------------------------------------
if [[ -s "$PIDS" ]]; then
    alive=1
    while read -r name pid; do
        [[ -d /proc/$pid && "$(cat /proc/"$pid"/comm 2>/dev/null)" == "$name" ]] || alive=0
    done <"$PIDS"
    if ((alive)); then
        say "already running from $STATE ($(tr '\n' ' ' <"$PIDS")); nothing to do"
        say "use it with: export SLURM_CONF=$CONF"
        exit 0
    fi
    die "$PIDS lists daemons that are gone; run tools/slurm/stop_local_slurm.sh $STATE first"
fi

# ---- 1. install ---------------------------------------------------------------------------
need=(munged slurmctld slurmd sinfo sbatch squeue scontrol)
missing=()
for b in "${need[@]}"; do command -v "$b" >/dev/null 2>&1 || [[ -x /usr/sbin/$b ]] || missing+=("$b"); done
if ((${#missing[@]})); then
    [[ "$(id -u)" == 0 ]] || cannot "not root: cannot apt-get install slurm-wlm munge (missing: ${missing[*]})"
    command -v apt-get >/dev/null || cannot "no apt-get: install slurm-wlm and munge yourself (missing: ${missing[*]})"
    say "installing slurm-wlm munge with apt (missing: ${missing[*]})"
    export DEBIAN_FRONTEND=noninteractive
    if ! { apt-get update -q && apt-get install -y -q --no-install-recommends slurm-wlm munge; } >"$STATE/apt.log" 2>&1; then
        tail -20 "$STATE/apt.log" >&2
        cannot "apt-get install slurm-wlm munge failed (log: $STATE/apt.log)"
    fi
else
    # (not `sinfo -V`: without a config it first waits a minute on a DNS SRV lookup)
    say "slurm and munge already installed (slurm-wlm $(dpkg-query -W -f '${Version}' slurm-wlm 2>/dev/null || echo '?'))"
fi
[[ "$(id -u)" == 0 ]] || cannot "not root: slurmd must run as root"

# ---- 2. configuration ---------------------------------------------------------------------
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_busy "$CTLD_PORT" && die "port $CTLD_PORT is in use (another slurmctld?); set SLURMCTLD_PORT"
port_busy "$SLURMD_PORT" && die "port $SLURMD_PORT is in use (another slurmd?); set SLURMD_PORT"

NODE="$(hostname -s)"
# The node line from the hardware itself (sockets/cores/threads), so slurmd never finds its
# node "smaller than configured" and drains it; memory lowered to 90% for the same reason.
HW="$(/usr/sbin/slurmd -C | head -1)"
MEM_MB="$(awk '/^MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)"
NODE_LINE="$(sed -E "s/^NodeName=[^ ]+/NodeName=$NODE NodeAddr=127.0.0.1/; s/RealMemory=[0-9]+/RealMemory=$MEM_MB/" <<<"$HW")"

mkdir -p "$STATE/ctld" "$STATE/slurmd" "$STATE/log" "$STATE/gpu"
: >"$STATE/gpu/fake-gpu0"
: >"$STATE/gpu/fake-gpu1"
cat >"$CONF" <<EOF
# Written by tools/slurm/start_local_slurm.sh: a single-node throwaway cluster.
ClusterName=juicer
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
# no cgroups needed (and none delegated here)
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
MailProg=/bin/true
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# without it a job without --mem takes all node memory and jobs run one at a time
DefMemPerCPU=1000
# finished jobs stay visible to squeue for 5 min: the snakemake plugin needs >= 3x its
# status interval to trust squeue (there is no accounting DB for sacct)
MinJobAge=300
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
GresTypes=gpu
$NODE_LINE Gres=gpu:2 State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
cat >"$STATE/gres.conf" <<EOF
# Two fake GPUs (empty files): --gres=gpu:1 is schedulable; CUDA_VISIBLE_DEVICES binds nothing real.
AutoDetect=off
NodeName=$NODE Name=gpu File=$STATE/gpu/fake-gpu0
NodeName=$NODE Name=gpu File=$STATE/gpu/fake-gpu1
EOF
echo "export SLURM_CONF=$CONF" >"$STATE/env.sh"
say "wrote $CONF and $STATE/gres.conf (node: $NODE_LINE Gres=gpu:2; partition $PARTITION)"

# Inside a job the snakemake plugin calls `srun` with every SLURM_* variable removed (SLURM_CONF
# too), so srun only finds the default /etc/slurm/slurm.conf: link it there (removed by stop).
ETC_CONF=/etc/slurm/slurm.conf
if [[ -L "$ETC_CONF" && ! -e "$ETC_CONF" ]]; then
    say "removing dangling $ETC_CONF -> $(readlink "$ETC_CONF") (left by an earlier cluster)"
    rm -f "$ETC_CONF"
fi
if [[ -e "$ETC_CONF" && "$(readlink -f "$ETC_CONF")" != "$CONF" ]]; then
    die "$ETC_CONF exists and is not this cluster's ($(readlink -f "$ETC_CONF")): jobs' inner srun would use it; stop that cluster (or move the file) first"
fi
mkdir -p /etc/slurm
ln -sfn "$CONF" "$ETC_CONF"
echo "$ETC_CONF" >"$STATE/etc_link"
say "linked $ETC_CONF -> $CONF"

# ---- 3./4. daemons ------------------------------------------------------------------------
started=()
cleanup_on_failure() {
    local rc=$?
    if ((rc != 0 && rc != 77)); then
        for f in slurmctld slurmd; do
            [[ -s "$STATE/log/$f.log" ]] && { echo "--- last lines of $STATE/log/$f.log" >&2; tail -15 "$STATE/log/$f.log" >&2; }
        done
        if ((${#started[@]})) || [[ -s "$STATE/etc_link" ]]; then
            say "start failed: undoing what was done"
            "$HERE/stop_local_slurm.sh" "$STATE" >&2 || true
        fi
    fi
}
trap cleanup_on_failure EXIT

record() {  # name pid
    started+=("$1")
    echo "$1 $2" >>"$PIDS"
    say "started $1 (pid $2)"
}

start_pid() {  # name pidfile: the pid the daemon wrote, waiting up to 10 s for it
    local i
    for ((i = 0; i < 100; i++)); do
        if [[ -s "$2" ]]; then record "$1" "$(cat "$2")"; return 0; fi
        sleep 0.1
    done
    die "$1 did not write $2 within 10 s"
}

munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }
if munge_ok; then
    say "munged already answers on the default socket: reusing it (it will not be stopped)"
else
    [[ -s /etc/munge/munge.key ]] || { say "creating /etc/munge/munge.key"; runuser -u munge -- mungekey --create; }
    install -d -o munge -g munge -m 0755 /run/munge
    rm -f /run/munge/munged.pid
    say "starting munged as user munge"
    runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
    start_pid munged /run/munge/munged.pid
    munge_ok || die "munged started but munge -n | unmunge fails (see /var/log/munge/munged.log)"
fi

rm -f "$STATE/slurmctld.pid" "$STATE/slurmd.pid"
say "starting slurmctld -c -f $CONF"
/usr/sbin/slurmctld -c -f "$CONF"
start_pid slurmctld "$STATE/slurmctld.pid"
say "starting slurmd -f $CONF -N $NODE"
/usr/sbin/slurmd -f "$CONF" -N "$NODE"
start_pid slurmd "$STATE/slurmd.pid"

# ---- 5. wait for the node -----------------------------------------------------------------
say "waiting up to ${TIMEOUT}s for node $NODE to be idle"
deadline=$((SECONDS + TIMEOUT))
state=""
while ((SECONDS < deadline)); do
    state="$(sinfo -h -N -n "$NODE" -o %T 2>/dev/null | head -1 || true)"
    [[ "$state" == idle ]] && break
    for name in slurmctld slurmd; do
        pid="$(awk -v n="$name" '$1 == n {print $2}' "$PIDS")"
        [[ -d /proc/$pid ]] || die "$name (pid $pid) exited"
    done
    sleep 1
done
[[ "$state" == idle ]] || die "node $NODE not idle after ${TIMEOUT}s (sinfo state: '${state:-no answer}')"

trap - EXIT
sinfo
say "cluster up. PIDs in $PIDS. Use it with:"
say "  export SLURM_CONF=$CONF      (or: . $STATE/env.sh)"
say "  snakemake --profile profiles/slurm --workflow-profile none --config sandbox=..."
say "stop with: $HERE/stop_local_slurm.sh $STATE"
