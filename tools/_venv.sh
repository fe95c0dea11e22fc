# Shared by tools/demo and tools/test (sourced, not run): a project virtualenv in .venv, reinstalled only when the
# packaging files change, so that both commands start fast after the first run.

ensure_venv() {
    local extras="$1"
    local stamp=".venv/.installed-${extras}"
    local digest
    if [ ! -x .venv/bin/python ]; then
        python3 -m venv .venv
    fi
    digest="$(cat setup.py setup.cfg | cksum)"
    if [ ! -f "${stamp}" ] || [ "$(cat "${stamp}")" != "${digest}" ]; then
        .venv/bin/pip install -q -e ".[${extras}]"
        echo "${digest}" > "${stamp}"
    fi
}
