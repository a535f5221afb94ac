#!/usr/bin/env bash
# deskpi installer for Raspberry Pi OS Bookworm (Pi 3/4/5/Zero 2 W) and other Debian 12 systems.
#
#   sudo systemd/install.sh                 install or upgrade from this source tree
#   sudo systemd/install.sh --now           ... and (re)start the service
#   sudo systemd/install.sh --self-signed-cert   ... and serve HTTPS with a certificate made for this desk
#   sudo systemd/install.sh --uninstall     remove the program and the unit; keep config and data
#   sudo systemd/install.sh --uninstall --purge    ... and the config, the data and the deskpi user
#   systemd/install.sh --root /tmp/stage    the same into a staging tree (tests, SD-card images)
#
# What it does, each step only if needed (a second run changes nothing and says so):
#   - a `deskpi` system user in the `gpio` group (GPIO access without root), and in `i2c` where
#     that group exists (the optional current sensor);
#   - a virtualenv in /opt/deskpi (PEP 668: never the system Python), made with
#     --system-site-packages so Debian's python3-lgpio (installed on a Pi) is used;
#   - deskpi from this source tree (or --source DIR|WHEEL) into it;
#   - /etc/deskpi/deskpi.toml from deskpi.example.toml if absent (an existing one is never touched);
#   - /var/lib/deskpi for the data (owner deskpi, mode 0750); on upgrade the database is migrated;
#   - the systemd unit in /etc/systemd/system, enabled (`systemctl --root` for a staging tree);
#   - with --self-signed-cert: a certificate for this desk's names and addresses in /etc/deskpi/tls/
#     (made once, kept after), [web] tls_cert/tls_key set, its SHA-256 fingerprint printed.
# Exit status: 0 done (or nothing to do), 1 failure, 2 usage.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: install.sh [--root DIR] [--source DIR|WHEEL] [--python PY] [--pip-args ARGS] [--no-deps]
                  [--venv-args ARGS] [--no-system-site-packages] [--extra-site-packages DIR] [--now]
                  [--self-signed-cert [--cert-names NAMES]]
       install.sh --uninstall [--purge] [--root DIR]

  --root DIR               install into the staging tree DIR instead of / (no changes to this system;
                           the deskpi user is only created if DIR/etc/passwd exists, with useradd --root)
  --source DIR|WHEEL       deskpi source tree or wheel (default: the tree this script is in)
  --python PY              Python 3.11+ for the virtualenv (default: python3)
  --pip-args ARGS          extra `pip install` arguments, e.g. "--no-index --find-links /srv/wheels"
  --no-deps                install deskpi only, not its dependencies (they must already be importable)
  --venv-args ARGS         extra `python -m venv` arguments, e.g. --without-pip
  --no-system-site-packages  a venv without Debian's packages: lgpio then comes from PyPI (deskpi[pi])
  --extra-site-packages DIR  make DIR's packages importable in the venv (tests, offline machines)
  --now                    start the service after installing (restart it after an upgrade)
  --self-signed-cert       serve HTTPS: make a self-signed certificate for this desk (EC P-256, 825 days;
                           names: localhost, the host name and NAME.local, its addresses) in /etc/deskpi/tls/
                           (key mode 0640 root:deskpi), set [web] tls_cert and tls_key, and print the
                           certificate's SHA-256 fingerprint to compare on the phone when it first warns.
                           An existing certificate is kept: delete both files to make a new one
  --cert-names NAMES       more names or addresses for it, comma-separated (desk12.example.com,10.1.2.3)
  --uninstall [--purge]    remove program and unit; --purge also config, data and the deskpi user

Example: sudo ./systemd/install.sh && sudoedit /etc/deskpi/deskpi.toml && sudo systemctl start deskpi
EOF
}

die() { echo "deskpi install: error: $*" >&2; exit 1; }
say() { echo "deskpi install: $*"; }

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=/
SOURCE=$(cd "$HERE/.." && pwd)
PY=python3
PIP_ARGS=""
VENV_ARGS=""
SYSTEM_SITE=1
EXTRA_SITE=""
START=0
UNINSTALL=0
PURGE=0
SELF_SIGNED=0
CERT_NAMES=""
while [ $# -gt 0 ]; do
    case "$1" in
        --root) ROOT=${2:?--root needs a directory}; shift ;;
        --root=*) ROOT=${1#*=} ;;
        --source) SOURCE=${2:?--source needs a directory or a wheel}; shift ;;
        --python) PY=${2:?--python needs an interpreter}; shift ;;
        --pip-args) PIP_ARGS=${2?}; shift ;;
        --venv-args) VENV_ARGS=${2?}; shift ;;
        --no-deps) PIP_ARGS="$PIP_ARGS --no-deps" ;;
        --no-system-site-packages) SYSTEM_SITE=0 ;;
        --extra-site-packages) EXTRA_SITE=${2:?--extra-site-packages needs a directory}; shift ;;
        --now) START=1 ;;
        --self-signed-cert) SELF_SIGNED=1 ;;
        --cert-names) CERT_NAMES=${2:?--cert-names needs names, e.g. desk12.example.com,10.1.2.3}; shift ;;
        --uninstall) UNINSTALL=1 ;;
        --purge) PURGE=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "deskpi install: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
[ "$PURGE" = 0 ] || [ "$UNINSTALL" = 1 ] || { echo "deskpi install: --purge goes with --uninstall" >&2; exit 2; }
[ -z "$CERT_NAMES" ] || [ "$SELF_SIGNED" = 1 ] || { echo "deskpi install: --cert-names goes with --self-signed-cert" >&2; exit 2; }
case ",$CERT_NAMES," in
    *[!A-Za-z0-9.:,-]*) echo "deskpi install: --cert-names '$CERT_NAMES': only host names and addresses, comma-separated (letters, digits, '.', '-', ':')" >&2; exit 2 ;;
esac

if [ "$ROOT" = / ]; then
    STAGING=0
    P=""
    [ "$(id -u)" = 0 ] || die "installing into the system needs root: run it with sudo (or use --root DIR for a staging tree)"
else
    STAGING=1
    mkdir -p "$ROOT" || die "--root '$ROOT': cannot create it"
    P=$(cd "$ROOT" && pwd)
    [ "$P" != / ] || { STAGING=0; P=""; }
fi
PREFIX="$P/opt/deskpi"
ETC="$P/etc/deskpi"
CONFIG="$ETC/deskpi.toml"
DATA="$P/var/lib/deskpi"
UNIT="$P/etc/systemd/system/deskpi.service"
STAMP="$PREFIX/.deskpi-installed"
CHANGES=0
changed() { CHANGES=$((CHANGES + 1)); say "$1: changed ($2)"; }
same() { say "$1: unchanged ($2)"; }

systemctl_() {
    if [ "$STAGING" = 1 ]; then systemctl --root="$P" "$@"; else systemctl "$@"; fi
}
has_systemctl() { command -v systemctl >/dev/null 2>&1; }
# systemd running as init (not a container, chroot or staging tree): only then reload, start, stop.
systemd_up() { [ "$STAGING" = 0 ] && has_systemctl && [ -d /run/systemd/system ]; }
# Staging: user commands act on DIR/etc/passwd (useradd --root), and only when the tree has one.
users_here() { [ "$STAGING" = 0 ] || [ -f "$P/etc/passwd" ]; }
root_opt() { if [ "$STAGING" = 1 ]; then echo "--root $P"; fi; }
has_user() { if [ "$STAGING" = 1 ]; then grep -q "^$1:" "$P/etc/passwd"; else getent passwd "$1" >/dev/null; fi; }
has_group() { if [ "$STAGING" = 1 ]; then grep -q "^$1:" "$P/etc/group"; else getent group "$1" >/dev/null; fi; }
in_group() {     # user $1 is a member of group $2
    local line
    if [ "$STAGING" = 1 ]; then line=$(grep "^$2:" "$P/etc/group" || true); else line=$(getent group "$2" || true); fi
    case ",${line##*:}," in *",$1,"*) return 0 ;; *) return 1 ;; esac
}
uid_gid() {      # "uid:gid" of the deskpi user in the target system
    if [ "$STAGING" = 1 ]; then awk -F: '$1 == "deskpi" {print $3 ":" $4}' "$P/etc/passwd"
    else echo "$(id -u deskpi):$(id -g deskpi)"; fi
}
service_active() { systemd_up && systemctl is-active --quiet deskpi 2>/dev/null; }

# ------------------------------------------------------------------------------------ uninstall
if [ "$UNINSTALL" = 1 ]; then
    if [ -f "$UNIT" ] && has_systemctl; then
        if systemd_up; then systemctl disable --now deskpi >/dev/null 2>&1 || true
        else systemctl_ disable deskpi >/dev/null 2>&1 || true; fi
    fi
    if [ -e "$UNIT" ]; then
        rm -f "$UNIT"
        ! systemd_up || systemctl daemon-reload
        changed "unit" "removed $UNIT"
    fi
    rm -f "$P/etc/systemd/system/multi-user.target.wants/deskpi.service"
    if [ -e "$PREFIX" ]; then rm -rf "$PREFIX"; changed "program" "removed $PREFIX"; fi
    if [ "$PURGE" = 1 ]; then
        if [ -e "$ETC" ]; then rm -rf "$ETC"; changed "config" "removed $ETC"; fi
        if [ -e "$DATA" ]; then rm -rf "$DATA"; changed "data" "removed $DATA"; fi
        if users_here && has_user deskpi; then
            # shellcheck disable=SC2046
            userdel $(root_opt) deskpi && changed "user" "removed the deskpi user"
        fi
    else
        for kept in "$ETC" "$DATA"; do [ ! -e "$kept" ] || say "kept $kept (remove it with --uninstall --purge)"; done
    fi
    if [ "$CHANGES" = 0 ]; then say "nothing to remove: deskpi is not installed${P:+ in $P}"
    else say "uninstalled ($CHANGES change(s))"; fi
    exit 0
fi

# -------------------------------------------------------------------------------------- checks
command -v "$PY" >/dev/null 2>&1 || die "--python '$PY': not found (install python3, or pass --python PATH)"
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    die "--python '$PY': is Python $("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])'); deskpi needs 3.11 or newer (Raspberry Pi OS Bookworm has 3.11)"
if [ -d "$SOURCE" ]; then
    [ -f "$SOURCE/pyproject.toml" ] && [ -d "$SOURCE/deskpi" ] ||
        die "--source '$SOURCE': not a deskpi source tree (no pyproject.toml and deskpi/ there)"
    SOURCE=$(cd "$SOURCE" && pwd)
elif [ -f "$SOURCE" ]; then
    case "$(basename "$SOURCE")" in deskpi-*.whl) ;; *) die "--source '$SOURCE': must be a deskpi source directory or a deskpi-*.whl file" ;; esac
else
    die "--source '$SOURCE': no such file or directory"
fi
UNIT_SRC="$HERE/deskpi.service"
EXAMPLE="$HERE/../deskpi.example.toml"
[ -f "$UNIT_SRC" ] || die "$UNIT_SRC is missing: run the installer from a deskpi source tree"
[ -f "$EXAMPLE" ] || die "$EXAMPLE is missing: run the installer from a deskpi source tree"
IS_PI=0
grep -qs "Raspberry Pi" /proc/device-tree/model && IS_PI=1

# ------------------------------------------------------------------------------ user and groups
if ! users_here; then
    say "user: skipped (staging tree $P has no etc/passwd; on a Pi the installer runs: useradd --system --user-group --groups gpio deskpi)"
else
    if ! has_group gpio; then
        # shellcheck disable=SC2046
        groupadd $(root_opt) --system gpio
        changed "group gpio" "created (Raspberry Pi OS has it; its udev rule gives it /dev/gpiochip*)"
    fi
    if ! has_user deskpi; then
        # shellcheck disable=SC2046
        useradd $(root_opt) --system --user-group --groups gpio --home-dir /var/lib/deskpi --no-create-home \
            --shell /usr/sbin/nologin --comment "deskpi desk controller" deskpi 2>&1 | grep -v "missing or non-executable shell" || true
        has_user deskpi || die "useradd failed to create the deskpi user"
        changed "user deskpi" "created, in group gpio"
    elif ! in_group deskpi gpio; then
        # shellcheck disable=SC2046
        usermod $(root_opt) --append --groups gpio deskpi
        changed "user deskpi" "added to group gpio"
    else
        same "user deskpi" "exists, in group gpio"
    fi
    # The I2C buses, for the optional current sensor ([current]); Raspberry Pi OS has the group.
    if has_group i2c && ! in_group deskpi i2c; then
        # shellcheck disable=SC2046
        usermod $(root_opt) --append --groups i2c deskpi
        changed "user deskpi" "added to group i2c (the current sensor's I2C bus)"
    fi
fi

# ------------------------------------------------------------------------- lgpio (a Pi only)
if [ "$STAGING" = 0 ] && [ "$IS_PI" = 1 ] && [ "$SYSTEM_SITE" = 1 ]; then
    if dpkg-query -W -f='${Status}' python3-lgpio 2>/dev/null | grep -q "ok installed"; then
        same "python3-lgpio" "installed"
    else
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-lgpio >/dev/null ||
            die "apt-get install python3-lgpio failed (network?); or rerun with --no-system-site-packages to take lgpio from PyPI"
        changed "python3-lgpio" "installed from Debian (the pin library that works on every Pi, the Pi 5 too)"
    fi
fi

# ---------------------------------------------------------------------------------- virtualenv
if [ -x "$PREFIX/bin/python" ] && "$PREFIX/bin/python" -c 'import sys' 2>/dev/null; then
    same "virtualenv" "$PREFIX"
else
    rm -rf "$PREFIX"
    venv_opts=()
    [ "$SYSTEM_SITE" = 0 ] || venv_opts+=(--system-site-packages)
    # shellcheck disable=SC2086
    "$PY" -m venv "${venv_opts[@]}" $VENV_ARGS "$PREFIX" ||
        die "could not create the virtualenv $PREFIX (on Debian: apt-get install python3-venv)"
    changed "virtualenv" "$PREFIX created with $("$PREFIX/bin/python" -V 2>&1)"
fi
if [ -n "$EXTRA_SITE" ]; then
    SITE=$("$PREFIX/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    if [ "$(cat "$SITE/_deskpi_extra_site.pth" 2>/dev/null)" != "$EXTRA_SITE" ]; then
        echo "$EXTRA_SITE" > "$SITE/_deskpi_extra_site.pth"
        changed "virtualenv" "packages from $EXTRA_SITE made importable"
    fi
fi

# ------------------------------------------------------------------------------ deskpi package
WORK=$(mktemp -d)
STOPPED=0
# A failure after the service was stopped for the upgrade must not leave the desk without its daemon.
on_exit() {
    rm -rf "$WORK"
    if [ "$STOPPED" = 1 ] && ! service_active; then
        systemctl start deskpi >/dev/null 2>&1 && say "started deskpi again (it was running before)" || true
    fi
}
trap on_exit EXIT
if [ -d "$SOURCE" ]; then
    # Build from a copy of what the package is made of: the source tree stays free of build/ and
    # *.egg-info, and what is built is exactly what was fingerprinted.
    mkdir "$WORK/src"
    parts=()
    for f in pyproject.toml setup.py setup.cfg MANIFEST.in README.md LICENSE deskpi web; do
        [ ! -e "$SOURCE/$f" ] || parts+=("$f")
    done
    tar -C "$SOURCE" --exclude=__pycache__ --exclude='*.pyc' -cf - "${parts[@]}" | tar -C "$WORK/src" -xf -
    FINGERPRINT=$(cd "$WORK/src" && find . -type f | LC_ALL=C sort | xargs -d '\n' sha256sum | sha256sum | cut -d' ' -f1)
    TARGET="$WORK/src"
else
    FINGERPRINT=$(sha256sum "$SOURCE" | cut -d' ' -f1)
    TARGET="$SOURCE"
fi
FINGERPRINT="$FINGERPRINT $PIP_ARGS"
UPGRADED=0
if [ -x "$PREFIX/bin/deskpi" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$FINGERPRINT" ]; then
    same "deskpi" "$("$PREFIX/bin/python" -c 'from importlib.metadata import version; print("version", version("deskpi"))' 2>/dev/null || echo installed) from the same source"
else
    WAS_ACTIVE=0
    if service_active; then
        WAS_ACTIVE=1
        systemctl stop deskpi     # no old code on new files (or the reverse) while pip replaces them
        STOPPED=1
    fi
    extra=""
    if [ "$SYSTEM_SITE" = 0 ] && [ -d "$TARGET" ]; then extra="[pi]"; fi
    # shellcheck disable=SC2086
    "$PREFIX/bin/python" -m pip install --disable-pip-version-check --no-input --quiet --upgrade $PIP_ARGS \
        "$TARGET$extra" || die "pip could not install deskpi into $PREFIX (see above); nothing else was changed"
    if [ -f "$TARGET" ]; then
        # pip keeps an installed version equal to the wheel's: a rebuilt wheel must still replace it.
        # shellcheck disable=SC2086
        "$PREFIX/bin/python" -m pip install --disable-pip-version-check --no-input --quiet --force-reinstall \
            --no-deps $PIP_ARGS "$TARGET" || die "pip could not install $TARGET into $PREFIX (see above)"
    fi
    echo "$FINGERPRINT" > "$STAMP"
    UPGRADED=1
    changed "deskpi" "$("$PREFIX/bin/python" -c 'from importlib.metadata import version; print("version", version("deskpi"))') installed in $PREFIX"
fi
"$PREFIX/bin/deskpi" --help >/dev/null || die "$PREFIX/bin/deskpi does not run (a missing dependency? see above)"

# -------------------------------------------------------------------------------------- config
if [ -e "$CONFIG" ]; then
    same "config" "$CONFIG kept (never overwritten)"
else
    install -d -m 0755 "$ETC"
    install -m 0644 "$EXAMPLE" "$CONFIG"
    changed "config" "$CONFIG created from deskpi.example.toml: edit it for this desk's wiring"
fi
# ------------------------------------------------------------------------ TLS (--self-signed-cert)
if [ "$SELF_SIGNED" = 1 ]; then
    command -v openssl >/dev/null 2>&1 || die "--self-signed-cert needs the openssl command (apt-get install openssl)"
    TLS="$ETC/tls"
    CRT="$TLS/deskpi.crt"
    KEY="$TLS/deskpi.key"
    GID=""
    if users_here && has_group deskpi; then
        if [ "$STAGING" = 1 ]; then GID=$(awk -F: '$1 == "deskpi" {print $3}' "$P/etc/group"); else GID=$(getent group deskpi | cut -d: -f3); fi
    fi
    install -d -m 0750 "$TLS"
    [ -z "$GID" ] || chown "0:$GID" "$TLS"
    if [ -s "$CRT" ] && [ -s "$KEY" ]; then
        same "tls" "$CRT kept (delete it and $KEY to make a new one)"
    else
        # The names a phone may use for this desk: the certificate must carry the one in the address bar.
        if [ "$STAGING" = 1 ]; then HOST=$(head -n1 "$P/etc/hostname" 2>/dev/null || true); else HOST=$(hostname 2>/dev/null || true); fi
        HOST=${HOST%%.*}
        names="localhost,127.0.0.1,::1${HOST:+,$HOST,$HOST.local}"
        if [ "$STAGING" = 0 ]; then
            for ip in $(hostname -I 2>/dev/null || true); do
                case "$ip" in fe80:*) ;; *) names="$names,$ip" ;; esac
            done
        fi
        [ -z "$CERT_NAMES" ] || names="$names,$CERT_NAMES"
        san=""
        seen=","
        IFS=, read -r -a list <<< "$names"
        for n in "${list[@]}"; do
            [ -n "$n" ] || continue
            case "$seen" in *",$n,"*) continue ;; esac
            seen="$seen$n,"
            if [[ "$n" =~ ^[0-9.]+$ || "$n" == *:* ]]; then san="$san,IP:$n"; else san="$san,DNS:$n"; fi
        done
        san=${san#,}
        rm -f "$CRT.new" "$KEY.new"
        if ! (umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
                -subj "/CN=${HOST:-localhost}" -addext "subjectAltName=$san" -addext "extendedKeyUsage=serverAuth" \
                -addext "basicConstraints=critical,CA:FALSE" -keyout "$KEY.new" -out "$CRT.new") >"$WORK/openssl.log" 2>&1; then
            rm -f "$CRT.new" "$KEY.new"
            die "openssl could not make the certificate: $(tail -n 3 "$WORK/openssl.log")"
        fi
        mv -f "$KEY.new" "$KEY"
        mv -f "$CRT.new" "$CRT"
        changed "tls" "self-signed certificate made in $TLS for ${san//,/ } (valid 825 days)"
    fi
    want_key=640
    [ -n "$GID" ] || want_key=600            # no deskpi group here: root only, until the installer runs on the desk
    for f in "$CRT:644" "$KEY:$want_key"; do
        file=${f%:*}
        mode=${f##*:}
        if [ "$(stat -c %a "$file")" != "$mode" ] || { [ -n "$GID" ] && [ "$(stat -c %u:%g "$file")" != "0:$GID" ]; }; then
            chmod "$mode" "$file"
            [ -z "$GID" ] || chown "0:$GID" "$file"
            changed "tls" "$file set to mode $mode${GID:+, owner root:deskpi}"
        fi
    done
    # The paths as the service sees them (without the staging prefix); both keys in one validated write.
    if out=$("$PREFIX/bin/python" -c '
import sys
from pathlib import Path
from deskpi.fleet.config_edit import EditError, set_values
try:
    done = set_values(Path(sys.argv[1]), [("web.tls_cert", sys.argv[2]), ("web.tls_key", sys.argv[3])])
except EditError as exc:
    sys.exit(str(exc))
print("changed" if any(r.changed for r in done) else "same")
' "$CONFIG" /etc/deskpi/tls/deskpi.crt /etc/deskpi/tls/deskpi.key 2>&1); then
        if [ "$out" = changed ]; then CONFIG_CHANGED=1; changed "config" "[web] tls_cert and tls_key set in $CONFIG"
        else same "config" "[web] tls_cert and tls_key already set"; fi
    else
        say "warning: could not set [web] tls_cert and tls_key in $CONFIG: $out"
        say "  set them by hand: tls_cert = \"/etc/deskpi/tls/deskpi.crt\" and tls_key = \"/etc/deskpi/tls/deskpi.key\" under [web]"
    fi
    FP=$(openssl x509 -in "$CRT" -noout -fingerprint -sha256 | cut -d= -f2)
    say "tls: certificate SHA-256 fingerprint $FP"
    say "  the first time a phone opens https://<this desk>:<port>/ it warns that the certificate is not"
    say "  trusted: open the certificate's details there and compare this fingerprint before going on."
fi

if ! problems=$("$PREFIX/bin/deskpi" config validate "$CONFIG" 2>&1); then
    say "warning: $CONFIG has problems; the service will not start until they are fixed:"
    echo "$problems" | sed 's/^/    /'
fi

# ---------------------------------------------------------------------------------------- data
OWNER=""
if users_here && has_user deskpi; then OWNER=$(uid_gid); fi
if [ ! -d "$DATA" ]; then
    install -d -m 0750 "$DATA"
    [ -z "$OWNER" ] || chown "$OWNER" "$DATA"
    changed "data" "$DATA created (mode 0750${OWNER:+, owner deskpi})"
else
    want_mode=750
    now="$(stat -c %a "$DATA")"
    now_owner="$(stat -c %u:%g "$DATA")"
    if [ "$now" != "$want_mode" ] || { [ -n "$OWNER" ] && [ "$now_owner" != "$OWNER" ]; }; then
        chmod 0750 "$DATA"
        [ -z "$OWNER" ] || chown "$OWNER" "$DATA"
        changed "data" "$DATA set to mode 0750${OWNER:+, owner deskpi}"
    else
        same "data" "$DATA kept"
    fi
fi
if [ -f "$DATA/deskpi.db" ]; then
    # Opening the store migrates it (one transaction per step); files root creates go to deskpi.
    out=$("$PREFIX/bin/deskpi" --config "$CONFIG" --data-dir "$DATA" migrate --json) ||
        die "database migration failed: $out"
    case "$out" in
        *'"changed": true'*) changed "database" "migrated: $out" ;;
        *) same "database" "schema is current" ;;
    esac
fi

# -------------------------------------------------------------------------------- systemd unit
UNIT_CHANGED=0
if cmp -s "$UNIT_SRC" "$UNIT"; then
    same "unit" "$UNIT"
else
    install -D -m 0644 "$UNIT_SRC" "$UNIT"
    UNIT_CHANGED=1
    ! systemd_up || systemctl daemon-reload
    changed "unit" "$UNIT installed"
fi
if ! has_systemctl; then
    say "warning: systemctl not found: enable the unit by hand (ln -s $UNIT $P/etc/systemd/system/multi-user.target.wants/)"
elif [ "$(systemctl_ is-enabled deskpi 2>/dev/null || true)" = enabled ]; then
    # (systemctl enable works without a running systemd, so containers and staging trees get the link too)
    same "service" "enabled"
else
    systemctl_ enable deskpi >/dev/null 2>&1 || die "systemctl${P:+ --root $P} enable deskpi failed"
    changed "service" "enabled (starts at boot)"
fi

# ------------------------------------------------------------------------------ start, restart
if systemd_up; then
    if service_active || { [ "${WAS_ACTIVE:-0}" = 1 ] || [ "$START" = 1 ]; }; then
        if [ "$UPGRADED" = 1 ] || [ "$UNIT_CHANGED" = 1 ] || [ "${CONFIG_CHANGED:-0}" = 1 ] || ! service_active; then
            systemctl restart deskpi && changed "service" "(re)started"
        fi
    else
        say "next: check $CONFIG (deskpi config validate), then: sudo systemctl start deskpi"
    fi
fi

if [ "$CHANGES" = 0 ]; then say "nothing changed: deskpi is installed and up to date${P:+ in $P}"
else say "done: $CHANGES change(s)${P:+ in staging tree $P}"; fi
