// nginx configuration for the registry's TLS proxy: pure renderers, settings in, text out.
import { Settings } from "./settings";
import { renderTemplate } from "./template";

/** Where the nginx-config volume is mounted in the nginx container. */
export const NGINX_CONF_DIR = "/etc/nginx/registry";
/** Where the auth volume (htpasswd) is mounted in the nginx container. */
export const NGINX_AUTH_DIR = "/etc/nginx/auth";
/** Where the running nginx reads its config from: a link to NGINX_CONF_DIR or the fallback. */
export const NGINX_ACTIVE_DIR = "/etc/nginx/active";
export const CERT_NAME = "registry";
/** The registry container's name on the stack's network. */
export const REGISTRY_ALIAS = "registry";
export const HSTS_MAX_AGE = 63072000;
/** Where nginx sees the registry container's control volume (GC flag), read-only. */
export const NGINX_CONTROL_DIR = "/etc/nginx/registry-control";

/** Host (and port, when not 443) that clients use: `docker push <publicHost>/repo`. */
export function publicHost(s: Pick<Settings, "domain" | "publish">): string {
    return s.publish.httpsPort === 443 ? s.domain : `${s.domain}:${s.publish.httpsPort}`;
}

export function renderMainConf(s: Settings): string {
    return renderTemplate("nginx.conf.mustache", { stack: s.stack });
}

export function renderHttpServer(s: Settings): string {
    return renderTemplate("http-server.conf.mustache", { domain: s.domain, publicHost: publicHost(s) });
}

export function renderHttpsServer(s: Settings): string {
    return renderTemplate("https-server.conf.mustache", {
        domain: s.domain,
        certName: CERT_NAME,
        registryHost: REGISTRY_ALIAS,
        hstsMaxAge: HSTS_MAX_AGE,
        realm: "Registry",
        controlDir: NGINX_CONTROL_DIR,
    });
}

export function renderFallbackConf(): string {
    return renderTemplate("fallback.conf.mustache", {});
}

/**
 * The nginx container's command. nginx always starts: with the installed config when it
 * passes `nginx -t`, otherwise with a built-in HTTP-only config that still serves ACME
 * challenges. It runs as PID 1, so a HUP from the certbot container (which shares its PID
 * namespace) reloads it.
 */
export function renderNginxEntrypoint(): string {
    return [
        "set -eu",
        `mkdir -p /etc/nginx/fallback ${NGINX_CONF_DIR}/servers ${NGINX_CONF_DIR}/access`,
        "cat > /etc/nginx/fallback/nginx.conf <<'REGISTRY_FALLBACK_EOF'",
        renderFallbackConf().trimEnd(),
        "REGISTRY_FALLBACK_EOF",
        `if [ -f ${NGINX_CONF_DIR}/nginx.conf ] && nginx -t -q -c ${NGINX_CONF_DIR}/nginx.conf; then`,
        `  ln -sfn ${NGINX_CONF_DIR} ${NGINX_ACTIVE_DIR}`,
        "else",
        `  echo "registry-nginx: ${NGINX_CONF_DIR}/nginx.conf is missing or invalid; serving ACME challenges only" >&2`,
        `  ln -sfn /etc/nginx/fallback ${NGINX_ACTIVE_DIR}`,
        "fi",
        `exec nginx -c ${NGINX_ACTIVE_DIR}/nginx.conf -g 'daemon off;'`,
        "",
    ].join("\n");
}
