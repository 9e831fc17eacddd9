# Shared by setup.sh, drill.sh and test.sh (sourced): log lines, and steps that say what they
# do, say so again every 10 s while they run, and say how long they took.
# Set `me` before sourcing: the prefix of every line ([setup], [drill], [test]).

log() { printf '[%s] %s\n' "${me:-drdrill}" "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# apt_install PACKAGE...: from Debian, the package lists updated once per script run (a
# stamp file, so that steps run in the background count too; the caller removes
# "$apt_stamp" on exit).
apt_stamp=/tmp/drdrill-apt-updated.$$
apt_install() {
  if [ ! -e "$apt_stamp" ]; then as_root $yield_cpu apt-get update -qq; touch "$apt_stamp"; fi
  as_root $yield_cpu env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# With DRDRILL_SETUP_YIELD=1 (scripts/drill.sh, while drdrill compiles beside it), setup's
# heavy steps take only the CPU and disk the compile leaves idle: apt, dpkg and debootstrap
# run at nice 19 and the lowest best-effort I/O priority (`$yield_cpu`), image builds with
# the least CPU weight (`$yield_build`). The engine itself is never started that way.
yield_cpu=""
yield_build=()
if [ "${DRDRILL_SETUP_YIELD:-}" = 1 ]; then
  yield_cpu="nice -n 19 ionice -c 2 -n 7"
  yield_build=(--cpu-shares 2)
fi

# Seconds since $1 (a $SECONDS value), as "12 s" or "3 min 4 s".
took() {
  local s=$((SECONDS - $1))
  if [ "$s" -ge 60 ]; then echo "$((s / 60)) min $((s % 60)) s"; else echo "$s s"; fi
}

# step WHAT COMMAND...: runs COMMAND; says "WHAT ...", then "still WHAT (N s)" every 10 s while
# it runs (followed by the last line of $step_log when that is set and has one), then
# "WHAT: done in N s" or "WHAT failed after N s". Returns COMMAND's status.
step() {
  local what=$1 t0=$SECONDS ticks=0 pid rc=0
  shift
  log "$what ..."
  "$@" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 0.2
    ticks=$((ticks + 1))
    if [ $((ticks % 50)) = 0 ] && kill -0 "$pid" 2>/dev/null; then
      local last=""
      [ -n "${step_log:-}" ] && [ -s "$step_log" ] && last=": $(tail -n 1 "$step_log" | cut -c1-100)"
      log "  still $what ($(took "$t0"))$last"
    fi
  done
  wait "$pid" || rc=$?
  if [ "$rc" = 0 ]; then log "$what: done in $(took "$t0")"; else log "$what failed after $(took "$t0") (exit $rc)"; fi
  return "$rc"
}

# ... | heartbeat WHAT: copies its input to stderr line by line and, whenever no line came for
# 10 s, says "still WHAT (N s)" (a long crate, such as drdrill itself, prints nothing while
# it compiles).
heartbeat() {
  local what=$1 t0=$SECONDS line rc
  while true; do
    if IFS= read -r -t 10 line; then
      printf '%s\n' "$line" >&2
    else
      rc=$?
      [ "$rc" -gt 128 ] || break
      log "  still $what ($(took "$t0"))"
    fi
  done
}

# cargo_step WHAT ARGS...: `cargo ARGS` (build, check...), its progress shown, never silent
# for 10 s.
cargo_step() {
  local what=$1 t0=$SECONDS
  shift
  log "$what (cargo $*) ..."
  if ! cargo "$@" 2>&1 | heartbeat "$what"; then
    log "$what failed after $(took "$t0")"
    return 1
  fi
  log "$what: done in $(took "$t0")"
}
