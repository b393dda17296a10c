#!/usr/bin/env bash
# AkkaGan build entry point.
#   ./build.sh test          prerequisites, restore, build Release, run every test project
#   ./build.sh train [ARGS]  the main job: an embedded training run (akkagan train ARGS)
#   ./build.sh run [ARGS]    any akkagan command (akkagan ARGS)
#   ./build.sh prereqs       only check/install prerequisites
# Environment: CONFIGURATION (default Release), TORCH_BACKEND (cpu|cuda, default cpu),
#              TEST_FILTER (dotnet test --filter expression), AKKAGAN_SKIP_PREREQS=1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CONFIGURATION="${CONFIGURATION:-Release}"
TORCH_BACKEND="${TORCH_BACKEND:-cpu}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log() { printf '[build] %s\n' "$*" >&2; }
die() { printf '[build] error: %s\n' "$*" >&2; exit 1; }

# --- prerequisites -----------------------------------------------------------------------------------------

need_glibcxx="GLIBCXX_3.4.32"

libstdcxx_path() {
  local p
  for p in /usr/lib/x86_64-linux-gnu/libstdc++.so.6 /usr/lib/aarch64-linux-gnu/libstdc++.so.6 /usr/lib64/libstdc++.so.6 /usr/lib/libstdc++.so.6; do
    [ -e "$p" ] && { echo "$p"; return 0; }
  done
  ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 / {print $NF; exit}'
}

has_glibcxx() {
  local lib; lib="$(libstdcxx_path)"
  [ -n "$lib" ] && grep -aq "$need_glibcxx" "$lib"
}

trixie_fix_text() {
  cat <<TXT
TorchSharp 0.107 (libtorch 2.10) needs libstdc++ from GCC 13+ (symbol version $need_glibcxx).
On Debian 12 install it from Debian 13 ("trixie"), pinned low so nothing else is upgraded by default:

  echo 'deb http://deb.debian.org/debian trixie main' | sudo tee /etc/apt/sources.list.d/trixie.list
  printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' | sudo tee /etc/apt/preferences.d/trixie-pin
  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -t trixie libstdc++6

On other distributions install a libstdc++ from GCC 13 or newer.
TXT
}

ensure_libstdcxx() {
  has_glibcxx && return 0
  if [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ] && command -v apt-get >/dev/null; then
    log "libstdc++ lacks $need_glibcxx (TorchSharp needs it); installing libstdc++6 from Debian trixie (pinned at priority 100)"
    [ -f /etc/apt/sources.list.d/trixie.list ] || echo 'deb http://deb.debian.org/debian trixie main' > /etc/apt/sources.list.d/trixie.list
    printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' > /etc/apt/preferences.d/trixie-pin
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t trixie libstdc++6 >/dev/null
    has_glibcxx || die "libstdc++6 from trixie was installed but still lacks $need_glibcxx"$'\n'"$(trixie_fix_text)"
    log "libstdc++ now exports $need_glibcxx"
  else
    die "$(trixie_fix_text)"
  fi
}

# The deploy specs parse the compose file and the Kubernetes manifests with PyYAML (Debian's python3-yaml).
ensure_pyyaml() {
  python3 -c 'import yaml' >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing python3-yaml (Debian package; the deploy specs parse YAML with it)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-yaml >/dev/null 2>&1 \
      || { DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-yaml >/dev/null; } \
      || log "warning: could not install python3-yaml; the deploy specs will report it"
  else
    log "note: PyYAML is missing (sudo apt-get install python3-yaml); the deploy specs need it"
  fi
}

# Fashion-MNIST comes from Debian (dataset-fashion-mnist); only the image tests and --dataset fashion-mnist need it.
ensure_fashion_mnist() {
  [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing dataset-fashion-mnist (Debian package)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 \
      || { DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null; } \
      || log "warning: could not install dataset-fashion-mnist; tests that need it will report it"
  else
    log "note: Fashion-MNIST is not installed (sudo apt-get install dataset-fashion-mnist)"
  fi
}

ensure_dotnet() {
  command -v dotnet >/dev/null || die ".NET SDK 10 is required (https://dot.net); 'dotnet' is not on PATH"
  local major; major="$(dotnet --version 2>/dev/null | cut -d. -f1)"
  [ "${major:-0}" -ge 10 ] || die ".NET SDK 10 or newer is required; found $(dotnet --version 2>/dev/null || echo none)"
}

prereqs() {
  [ "${AKKAGAN_SKIP_PREREQS:-0}" = 1 ] && return 0
  ensure_dotnet
  ensure_libstdcxx
}

# --- build, test, run --------------------------------------------------------------------------------------

build() {
  log "restore + build ($CONFIGURATION, torch backend $TORCH_BACKEND)"
  dotnet build "$ROOT/AkkaGan.sln" -c "$CONFIGURATION" -p:TorchBackend="$TORCH_BACKEND" -nologo -v quiet -clp:ErrorsOnly
}

run_tests() {
  local failed=0 proj filter=()
  [ -n "${TEST_FILTER:-}" ] && filter=(--filter "$TEST_FILTER")
  for proj in "$ROOT"/tests/*.Tests/*.csproj; do
    [ -e "$proj" ] || continue
    log "test $(basename "$proj" .csproj)"
    dotnet test "$proj" -c "$CONFIGURATION" -p:TorchBackend="$TORCH_BACKEND" --no-build -nologo \
      --logger "console;verbosity=normal" "${filter[@]}" || failed=1
  done
  return $failed
}

akkagan_dll() { echo "$ROOT/src/AkkaGan.Node/bin/$CONFIGURATION/net10.0/akkagan.dll"; }

cmd="${1:-test}"; shift || true
case "$cmd" in
  prereqs) prereqs; ensure_fashion_mnist ;;
  build)   prereqs; build ;;
  test)    prereqs; ensure_fashion_mnist; ensure_pyyaml; build; run_tests ;;
  train)   prereqs; build; exec dotnet "$(akkagan_dll)" train "$@" ;;
  run)     prereqs; build; exec dotnet "$(akkagan_dll)" "$@" ;;
  -h|--help|help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) die "unknown command '$cmd' (expected: test, train, run, build, prereqs)" ;;
esac
