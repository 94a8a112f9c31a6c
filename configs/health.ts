// The health check that runs after every deploy, on the Docker host (configs/templates/
// health-probe.sh.mustache inside nginx): whether each container of a host runs and the host
// serves the registry. A plain `pulumi up` cannot see containers or volumes removed by hand
// (only a refresh can), so this check is what tells the user. Pure: settings in, text out.
import { Settings } from "../settings/types";
import { LIVE_CERTIFICATE_DIR } from "./certificates";
import { HTPASSWD_VARIABLE } from "./htpasswd";
import { USERS_RULES_PATH } from "./install";
import { NGINX_ACTIVE_DIR, NGINX_CONF_DIR } from "./nginx";
import { NGINX_HTTPS_PORT } from "./ports";
import { REGISTRY_SOCKET } from "./registry";
import { renderTemplate } from "./template";

/** How long the probe waits for a host that is still starting. */
export const HEALTH_WAIT_SECONDS = 30;
/** The prefix of each line the check prints for something wrong. */
export const HEALTH_PROBLEM = "problem: ";

/** The probe run in a host's nginx container. */
export function renderHealthProbe(s: Pick<Settings, "domain">): string {
    return renderTemplate("health-probe.sh.mustache", {
        seconds: HEALTH_WAIT_SECONDS,
        activeDir: NGINX_ACTIVE_DIR,
        confDir: NGINX_CONF_DIR,
        certificate: `${LIVE_CERTIFICATE_DIR}/fullchain.pem`,
        htpasswdVariable: HTPASSWD_VARIABLE,
        usersRules: USERS_RULES_PATH,
        socket: REGISTRY_SOCKET,
        domain: s.domain,
        port: NGINX_HTTPS_PORT,
    });
}

const HEREDOC_TAG = "REGISTRY_HEALTH_EOF";

/**
 * The check, run on the machine running Pulumi with the docker CLI (DOCKER_HOST set): each of
 * `containers` running, then the probe in `nginx`. Container names are the program's own
 * (namePrefix is a DNS label), so they need no quoting.
 */
export function renderHealthCheck(s: Pick<Settings, "domain">, containers: string[], nginx: string): string {
    return [
        `for c in ${containers.join(" ")}; do`,
        `  state=$(docker inspect --format '{{.State.Status}}' "$c" 2>/dev/null) || state=missing`,
        `  [ "$state" = running ] || echo "${HEALTH_PROBLEM}container $c is $state"`,
        "done",
        `docker exec -i ${nginx} sh -s <<'${HEREDOC_TAG}' 2>/dev/null || echo "${HEALTH_PROBLEM}the check could not run in ${nginx}"`,
        renderHealthProbe(s).trimEnd(),
        HEREDOC_TAG,
        "",
    ].join("\n");
}

/** The problems a check printed (empty: healthy). */
export function healthProblems(output: string): string[] {
    return output
        .split("\n")
        .filter((line) => line.startsWith(HEALTH_PROBLEM))
        .map((line) => line.slice(HEALTH_PROBLEM.length));
}
