#!/bin/sh
# Entrypoint of the test-bed nginx image, modelled on the official image's:
# when the command is nginx (or nginx-debug), run the executable *.sh files
# in /docker-entrypoint.d/ (sorted) and source executable *.envsh files,
# then exec the command. Any other command is exec'd unchanged.
# NGINX_ENTRYPOINT_QUIET_LOGS=1 silences the messages.
set -e

log() {
    if [ -z "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ]; then
        echo "$@"
    fi
}

if [ "$1" = "nginx" ] || [ "$1" = "nginx-debug" ]; then
    scripts=$(find /docker-entrypoint.d/ -follow -type f 2>/dev/null | sort -V)
    if [ -n "$scripts" ]; then
        log "$0: /docker-entrypoint.d/ is not empty, will attempt to perform configuration"
        for f in $scripts; do
            case "$f" in
                *.envsh)
                    if [ -x "$f" ]; then
                        log "$0: Sourcing $f"
                        . "$f"
                    else
                        log "$0: Ignoring $f, not executable"
                    fi
                    ;;
                *.sh)
                    if [ -x "$f" ]; then
                        log "$0: Launching $f"
                        "$f"
                    else
                        log "$0: Ignoring $f, not executable"
                    fi
                    ;;
                *)
                    log "$0: Ignoring $f"
                    ;;
            esac
        done
        log "$0: Configuration complete; ready for start up"
    else
        log "$0: No files found in /docker-entrypoint.d/, skipping configuration"
    fi
fi

exec "$@"
