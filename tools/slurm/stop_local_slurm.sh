#!/usr/bin/env bash
# Stop the cluster tools/slurm/start_local_slurm.sh started from STATE_DIR (default
# /tmp/juicer-slurm): cancel its jobs, then kill exactly the PIDs listed in STATE_DIR/pids
# (each checked against its recorded process name, so a reused PID is never hit).
# Nothing is found by name; a munged the start script reused is not in the list and stays.
# Also removes the /etc/slurm/slurm.conf link the start script made (only if it still points here).
#
#   tools/slurm/stop_local_slurm.sh [STATE_DIR]
set -uo pipefail

STATE="${1:-${SLURM_STATE_DIR:-/tmp/juicer-slurm}}"
PIDS="$STATE/pids"
say() { echo "[stop_local_slurm] $*"; }

# pid $2 is alive (not a zombie) and is still the process named $1
matches() {
    [[ -r /proc/$2/stat && "$(cat /proc/"$2"/comm 2>/dev/null)" == "$1" ]] || return 1
    [[ "$(awk '{print $3}' /proc/"$2"/stat 2>/dev/null)" != Z ]]
}

stop_daemons() {
    # Jobs first, while slurmctld still answers: otherwise their slurmstepd processes outlive slurmd.
    ctld_pid="$(awk '$1 == "slurmctld" {print $2}' "$PIDS")"
    if [[ -n "$ctld_pid" ]] && matches slurmctld "$ctld_pid" && [[ -f "$STATE/slurm.conf" ]]; then
        say "cancelling this cluster's jobs (scancel --user=$(id -un))"
        SLURM_CONF="$STATE/slurm.conf" timeout 10 scancel --user="$(id -un)" 2>/dev/null || true
    fi

    # Reverse start order: slurmd, slurmctld, then munged.
    mapfile -t entries < <(tac "$PIDS")
    for entry in "${entries[@]}"; do
        read -r name pid <<<"$entry"
        if ! matches "$name" "$pid"; then
            say "$name (pid $pid) is not running"
            continue
        fi
        say "stopping $name (pid $pid)"
        kill -TERM "$pid" 2>/dev/null
        for ((i = 0; i < 100; i++)); do
            matches "$name" "$pid" || break
            sleep 0.1
        done
        if matches "$name" "$pid"; then
            say "$name (pid $pid) still alive after 10 s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null
        fi
    done
    rm -f "$PIDS"
}

if [[ -s "$PIDS" ]]; then
    stop_daemons
else
    say "no $PIDS: no daemons to stop"
fi
if [[ -s "$STATE/etc_link" ]]; then
    link="$(cat "$STATE/etc_link")"
    if [[ -L "$link" && "$(readlink "$link")" == "$STATE/slurm.conf" ]]; then
        say "removing $link (linked to $STATE/slurm.conf by the start script)"
        rm -f "$link"
    fi
    rm -f "$STATE/etc_link"
fi
say "done; state and logs stay in $STATE"
