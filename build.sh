#!/usr/bin/env bash
# AkkaGan build entry point.
#   ./build.sh test          prerequisites, restore, build Release, run every test of every project (what CI runs)
#   ./build.sh test fast     the same without the slow tier (tests tagged Category=Slow, over 10 s): the edit-test loop
#   ./build.sh tiers         check the last test run's timings against the Slow tags (exit 1 on drift)
#   ./build.sh train [ARGS]  the main job: an embedded training run (akkagan train ARGS)
#   ./build.sh run [ARGS]    any akkagan command (akkagan ARGS)
#   ./build.sh prereqs       only check/install the prerequisites of train and test
#   ./build.sh install [PREFIX]    publish the akkagan and akkagan-ctl commands under PREFIX (default /usr/local as
#                                  root, else ~/.local): PREFIX/lib/akkagan/{akkagan,akkagan-ctl}, linked from PREFIX/bin
#   ./build.sh uninstall [PREFIX]  remove what install put there
#   ./build.sh docs          regenerate docs/configuration.md's table, then build the documentation site (DocFX, a .NET
#                            tool) into docs/_site with the API reference; a broken link or anchor fails it
# Environment: CONFIGURATION (default Release), TORCH_BACKEND (cpu|cuda, default cpu),
#              TEST_FILTER (dotnet test --filter expression, combined with the tier), AKKAGAN_SKIP_PREREQS=1,
#              AKKAGAN_TEST_POSTGRES (Npgsql connection string of the PostgreSQL specs; default: the local server, set up as root),
#              AKKAGAN_TEST_HANG (a test running longer than this fails with a hang dump; default 10m).
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

# The deploy specs parse the compose file and the Kubernetes manifests with PyYAML. The tests run the Python named by
# AKKAGAN_PYTHON: the python3 on PATH when it has PyYAML, else Debian's /usr/bin/python3 with python3-yaml (PATH may
# point at another Python, e.g. pyenv's, which apt cannot give PyYAML).
ensure_pyyaml() {
  local candidate
  for candidate in "$(command -v python3 || true)" /usr/bin/python3; do
    [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" -c 'import yaml' >/dev/null 2>&1 || continue
    export AKKAGAN_PYTHON="$candidate"
    log "deploy specs parse YAML with $candidate (PyYAML $("$candidate" -c 'import yaml; print(yaml.__version__)'))"
    return 0
  done
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing python3-yaml (Debian package; the deploy specs parse YAML with it)"
    apt_install python3-yaml || { log "warning: could not install python3-yaml; the deploy specs will report it"; return 0; }
    export AKKAGAN_PYTHON=/usr/bin/python3
    log "deploy specs parse YAML with /usr/bin/python3"
  else
    log "note: PyYAML is missing (sudo apt-get install python3-yaml); the deploy specs need it"
  fi
}

# Installs Debian packages quietly, refreshing the package lists once when a package is not found.
apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 \
    || { DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; }
}

# The fault specs signal processes with kill(1) (procps), as an orchestrator would.
ensure_procps() {
  [ -n "$(type -P kill)" ] && return 0   # the program, not bash's builtin
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing procps (kill; the fault specs signal node processes with it)"
    apt_install procps || log "warning: could not install procps; the fault specs will fail starting kill"
  else
    log "note: kill(1) is missing (sudo apt-get install procps); the fault specs need it"
  fi
}

# Fashion-MNIST comes from Debian (dataset-fashion-mnist); only the image tests and --dataset fashion-mnist need it.
ensure_fashion_mnist() {
  [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing dataset-fashion-mnist (Debian package)"
    apt_install dataset-fashion-mnist || log "warning: could not install dataset-fashion-mnist; tests that need it will report it"
  else
    log "note: Fashion-MNIST is not installed (sudo apt-get install dataset-fashion-mnist)"
  fi
}

# The PostgreSQL specs (the state store's postgresql provider) need a server with a database they may write:
# AKKAGAN_TEST_POSTGRES (an Npgsql connection string) names one; without it they use the local Debian server,
# Host=127.0.0.1;Port=5432;Database=akkagan_test;Username=akkagan;Password=akkagan, which this sets up as root.
ensure_postgresql() {
  [ -n "${AKKAGAN_TEST_POSTGRES:-}" ] && return 0
  if command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432 \
     && PGPASSWORD=akkagan psql -h 127.0.0.1 -U akkagan -d akkagan_test -tAc 'select 1' >/dev/null 2>&1; then
    return 0
  fi
  if [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ] && command -v apt-get >/dev/null; then
    if ! command -v pg_lsclusters >/dev/null; then
      log "installing postgresql (Debian package; the state store's PostgreSQL specs need a server)"
      apt_install postgresql || { log "warning: could not install postgresql; the PostgreSQL specs will fail naming the server"; return 0; }
    fi
    local version; version="$(pg_lsclusters -h | awk 'NR==1 {print $1}')"
    [ -n "$version" ] || { log "warning: no PostgreSQL cluster (pg_createcluster --start 15 main); the PostgreSQL specs will fail"; return 0; }
    log "starting PostgreSQL $version and creating the akkagan_test database"
    pg_ctlcluster "$version" main start >/dev/null 2>&1 || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
    su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname='akkagan'\"" | grep -q 1 \
      || su postgres -c "psql -qc \"CREATE ROLE akkagan LOGIN PASSWORD 'akkagan'\""
    su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='akkagan_test'\"" | grep -q 1 \
      || su postgres -c "psql -qc \"CREATE DATABASE akkagan_test OWNER akkagan\""
  else
    log "note: the PostgreSQL specs need a server: sudo apt-get install postgresql && sudo service postgresql start &&"
    log "  sudo -u postgres psql -c \"CREATE ROLE akkagan LOGIN PASSWORD 'akkagan'\" -c \"CREATE DATABASE akkagan_test OWNER akkagan\""
    log "  (or export AKKAGAN_TEST_POSTGRES='Host=...;Database=...;Username=...;Password=...')"
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

# What the tests use besides what train needs: the image data, PyYAML, kill(1), a PostgreSQL server.
ensure_test_prereqs() {
  [ "${AKKAGAN_SKIP_PREREQS:-0}" = 1 ] && return 0
  ensure_fashion_mnist
  ensure_pyyaml
  ensure_procps
  ensure_postgresql
}

# --- build, test, run --------------------------------------------------------------------------------------

build() {
  log "restore + build ($CONFIGURATION, torch backend $TORCH_BACKEND)"
  dotnet build "$ROOT/AkkaGan.sln" -c "$CONFIGURATION" -p:TorchBackend="$TORCH_BACKEND" -nologo -v quiet -clp:ErrorsOnly
}

# Two tiers: a test measured over 10 s carries [Trait("Category", "Slow")]. Each tier runs every project into its own
# TRX files (TestResults/<project>.<tier>.trx), so check_tiers knows each test's tag and time. A test that runs past
# AKKAGAN_TEST_HANG fails with a dump of the test host (--blame-hang) instead of holding CI to its time limit.
run_tests() {
  local tiers=("$@") failed=0 tier proj name filter results="$ROOT/TestResults" background="" background_log=""
  rm -rf "$results" && mkdir -p "$results"
  for tier in "${tiers[@]}"; do
    case "$tier" in fast) filter="Category!=Slow" ;; slow) filter="Category=Slow" ;; esac
    [ -n "${TEST_FILTER:-}" ] && filter="($TEST_FILTER)&($filter)"
    # Integration first: in the slow tier it starts in the background, and the others run meanwhile.
    for proj in "$ROOT"/tests/AkkaGan.Integration.Tests/*.csproj $(ls "$ROOT"/tests/*.Tests/*.csproj | grep -v /AkkaGan.Integration.Tests/); do
      [ -e "$proj" ] || continue
      name="$(basename "$proj" .csproj)"
      if [ "$tier" = slow ] && [ "$name" = AkkaGan.Integration.Tests ]; then
        # The integration slow tier is the longest by far and waits on processes much of its time: it runs beside the
        # other projects' slow tiers (its log, kept apart so the two do not interleave, follows theirs).
        background_log="$results/$name.$tier.log"
        log "test $name ($tier tier) started beside the others; its log follows theirs"
        run_project "$proj" "$name" "$tier" "$filter" > "$background_log" 2>&1 &
        background=$!
        continue
      fi
      log "test $name ($tier tier)"
      run_project "$proj" "$name" "$tier" "$filter" || failed=1
    done
    if [ -n "$background" ]; then
      wait "$background" || failed=1
      log "test AkkaGan.Integration.Tests ($tier tier), its log:"
      cat "$background_log"
      background=""
    fi
  done
  check_tiers || true
  return $failed
}

run_project() {
  local proj="$1" name="$2" tier="$3" filter="$4"
  dotnet test "$proj" -c "$CONFIGURATION" -p:TorchBackend="$TORCH_BACKEND" --no-build -nologo \
    --filter "$filter" --results-directory "$ROOT/TestResults" \
    --logger "console;verbosity=normal" --logger "trx;LogFileName=$name.$tier.trx" \
    --blame-hang --blame-hang-timeout "${AKKAGAN_TEST_HANG:-10m}" --blame-hang-dump-type mini
}

# Reads the TRX files of the last run: a fast-tier test measured over 10 s should be tagged Slow (the other direction
# is not checked). A test's time includes its class's construction and IAsyncLifetime set-up and tear-down (xUnit v3),
# so a spec whose cluster starts per test reports what it costs. Timings depend on the machine and its load, so `test`
# only reports drift; `tiers` fails on it.
check_tiers() {
  local results="$ROOT/TestResults" drift
  compgen -G "$results/*.fast.trx" >/dev/null || { log "no fast-tier results in $results: run ./build.sh test first"; return 1; }
  drift="$(cat "$results"/*.fast.trx | grep -o '<UnitTestResult [^>]*>' |
    sed -E 's/.*testName="([^"]*)".*duration="([0-9]+):([0-9]+):([0-9.]+)".*/\2 \3 \4 \1/' |
    awk '{ s = $1 * 3600 + $2 * 60 + $3; $1 = $2 = $3 = ""; if (s > 10) printf "  %.1f s: %s\n", s, substr($0, 4) }')"
  if [ -n "$drift" ]; then
    log "test tiers: these fast-tier tests took over 10 s; tag them [Trait(\"Category\", \"Slow\")]:"
    printf '%s\n' "$drift" >&2
    return 1
  fi
  log "test tiers: every fast-tier test took at most 10 s"
}

# --- documentation ---------------------------------------------------------------------------------------------------

# DocFX (pinned in .config/dotnet-tools.json) extracts the API reference of the libraries from their projects and
# builds docs/ into docs/_site; --warningsAsErrors turns an invalid file link or bookmark into a failure. With
# "regenerate", the configuration page's generated table is rewritten first from the key table (the spec that compares
# them does it under AKKAGAN_UPDATE_DOCS=1); `test` only checks, as the spec fails on a stale table.
build_docs() {
  if [ "${1:-}" = regenerate ]; then
    log "docs/configuration.md: the generated table, from SettingKeys and cluster.hocon"
    AKKAGAN_UPDATE_DOCS=1 dotnet test "$ROOT/tests/AkkaGan.Cluster.Tests/AkkaGan.Cluster.Tests.csproj" -c "$CONFIGURATION" \
      -p:TorchBackend="$TORCH_BACKEND" --no-build -nologo -v quiet --filter "FullyQualifiedName~ConfigurationReferenceSpecs" >/dev/null
  fi
  log "documentation site (DocFX) -> docs/_site"
  (cd "$ROOT" && dotnet tool restore >/dev/null)
  local out; out="$(mktemp)"
  if (cd "$ROOT" && dotnet docfx docs/docfx.json --warningsAsErrors) >"$out" 2>&1; then
    grep -E '^ *[0-9]+ (warning|error)\(s\)' "$out" | tr -s ' ' | sed 's/^ //' | paste -sd ' ' | sed 's/^/[build] docs: /' >&2
    rm -f "$out"
  else
    grep -Ei 'warning|error' "$out" >&2 || cat "$out" >&2
    rm -f "$out"
    return 1
  fi
}

akkagan_dll() { echo "$ROOT/src/AkkaGan.Node/bin/$CONFIGURATION/net10.0/akkagan.dll"; }

# --- install ---------------------------------------------------------------------------------------------------------

default_prefix() { if [ "$(id -u)" = 0 ]; then echo /usr/local; else echo "$HOME/.local"; fi; }

# Each command is published framework-dependent for this machine's runtime identifier with its .NET apphost (a native
# executable) into a folder of its own: akkagan with TorchSharp's libtorch for this platform beside it, akkagan-ctl
# without (it never loads torch). PREFIX/bin gets a link to each. A new install replaces the old one whole.
install_commands() {
  local prefix="${1:-$(default_prefix)}" rid lib
  case "$(uname -m)" in x86_64) rid=linux-x64 ;; aarch64|arm64) rid=linux-arm64 ;; *) die "install: no .NET runtime identifier for $(uname -m)" ;; esac
  prefix="$(mkdir -p "$prefix" && cd "$prefix" && pwd)"
  lib="$prefix/lib/akkagan"
  log "publishing akkagan and akkagan-ctl ($CONFIGURATION, $rid, torch backend $TORCH_BACKEND) to $lib"
  rm -rf "$lib.new" && mkdir -p "$lib.new" "$prefix/bin"
  dotnet publish "$ROOT/src/AkkaGan.Node/AkkaGan.Node.csproj" -c "$CONFIGURATION" -p:TorchBackend="$TORCH_BACKEND" -r "$rid" --self-contained false \
    -o "$lib.new/akkagan" -nologo -v quiet -clp:ErrorsOnly
  dotnet publish "$ROOT/src/AkkaGan.Ctl/AkkaGan.Ctl.csproj" -c "$CONFIGURATION" -r "$rid" --self-contained false \
    -o "$lib.new/akkagan-ctl" -nologo -v quiet -clp:ErrorsOnly
  rm -rf "$lib" && mv "$lib.new" "$lib"
  ln -sfn "$lib/akkagan/akkagan" "$prefix/bin/akkagan"
  ln -sfn "$lib/akkagan-ctl/akkagan-ctl" "$prefix/bin/akkagan-ctl"
  "$prefix/bin/akkagan" --version >&2
  log "installed $prefix/bin/akkagan and $prefix/bin/akkagan-ctl ($(du -sh "$lib" | cut -f1)); ./build.sh uninstall $prefix removes them"
  case ":$PATH:" in
    *":$prefix/bin:"*) ;;
    *) log "note: $prefix/bin is not on your PATH: add it, e.g. echo 'export PATH=\"$prefix/bin:\$PATH\"' >> ~/.profile" ;;
  esac
}

uninstall_commands() {
  local prefix="${1:-$(default_prefix)}" name
  [ -d "$prefix/lib/akkagan" ] || die "uninstall: nothing installed under $prefix (no $prefix/lib/akkagan)"
  for name in akkagan akkagan-ctl; do
    # Only our own links: a file of that name that is not ours stays.
    if [ -L "$prefix/bin/$name" ] && [ "$(readlink "$prefix/bin/$name")" = "$prefix/lib/akkagan/$name/$name" ]; then rm -f "$prefix/bin/$name"; fi
  done
  rm -rf "$prefix/lib/akkagan"
  log "removed akkagan and akkagan-ctl from $prefix"
}

cmd="${1:-test}"; shift || true
case "$cmd" in
  prereqs) prereqs; ensure_test_prereqs ;;
  build)   prereqs; build ;;
  test)
    case "${1:-all}" in
      all)  tiers=(fast slow) ;;
      fast) tiers=(fast) ;;
      *) die "unknown test tier '$1' (expected: fast, or nothing for every test)" ;;
    esac
    prereqs; ensure_test_prereqs; build
    failed=0; run_tests "${tiers[@]}" || failed=1
    # The whole suite also builds the documentation site: a broken link fails CI as a failing test does.
    if [ "${tiers[*]}" = "fast slow" ]; then build_docs || { log "the documentation site has broken links (above)"; failed=1; }; fi
    exit $failed ;;
  tiers)   check_tiers ;;
  train)   prereqs; build; exec dotnet "$(akkagan_dll)" train "$@" ;;
  run)     prereqs; build; exec dotnet "$(akkagan_dll)" "$@" ;;
  install)   prereqs; install_commands "$@" ;;
  uninstall) uninstall_commands "$@" ;;
  docs)    prereqs; build; build_docs regenerate ;;
  -h|--help|help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) die "unknown command '$cmd' (expected: test, train, run, build, tiers, prereqs, install, uninstall, docs)" ;;
esac
