// nginx configuration for the registry's TLS proxy: pure renderers, settings in, text out.
import { Settings } from "../settings/types";
import {
    AUTH_LOCATION,
    AUTH_MODULE,
    AUTH_MODULE_FILE,
    AUTH_REALM,
    AUTH_ZONES,
    GC_RETRY_AFTER_SECONDS,
    NJS_MODULE,
    PATH_VARIABLE,
    renderAuthModule,
    UPSTREAM_URI_VARIABLE,
    VERIFY_PATH,
} from "./auth";
import { WEBROOT } from "./certbot";
import { DEPLOY_MARKER, LIVE_CERTIFICATE_DIR } from "./certificates";
import { proxyUpstream, renderMirrorRouting } from "./mirrors";
import { NGINX_HTTP_PORT, NGINX_HTTPS_PORT, NGINX_VERIFY_PORT } from "./ports";
import { GRANTS_VARIABLE, HTPASSWD_VARIABLE, PULL_USERS_VARIABLE, USERS_VARIABLE } from "./htpasswd";
import { DRAIN_SECONDS, REGISTRY_READONLY_SOCKET, REGISTRY_SOCKET } from "./registry";
import { renderTemplate } from "./template";

/** Where the nginx-config volume is mounted in the nginx container. */
export const NGINX_CONF_DIR = "/etc/nginx/registry";
/** Where the auth volume (htpasswd) is mounted in the nginx container. */
export const NGINX_AUTH_DIR = "/etc/nginx/auth";
/** Where the running nginx reads its config from: a link to NGINX_CONF_DIR or the fallback. */
export const NGINX_ACTIVE_DIR = "/etc/nginx/active";
export const HSTS_MAX_AGE = 63072000;
export { NGINX_HTTP_PORT, NGINX_HTTPS_PORT } from "./ports";
/** nginx's pid file (the image's /var/run may not be writable). */
export const NGINX_PID_FILE = "/tmp/nginx.pid";
/** Where nginx sees the registry container's control volume (GC flag), read-only. */
export const NGINX_CONTROL_DIR = "/etc/nginx/registry-control";

/** Host (and port, when not 443) that clients use: `docker push <publicHost>/repo`. */
export function publicHost(s: Pick<Settings, "domain" | "publish">): string {
    return s.publish.httpsPort === 443 ? s.domain : `${s.domain}:${s.publish.httpsPort}`;
}

/** Config subdirectories (relative to NGINX_CONF_DIR) that the main config includes. */
export const NGINX_INCLUDE_DIRS = { servers: "servers", access: "access", redirect: "redirect", njs: "njs" } as const;
/** The authentication module (configs/auth.ts), at this path in the config volume. */
export const AUTH_MODULE_PATH = `${NGINX_INCLUDE_DIRS.njs}/${AUTH_MODULE_FILE}`;

export function renderMainConf(s: Pick<Settings, "stack" | "trustedProxies">): string {
    return renderTemplate("nginx.conf.mustache", {
        stack: s.stack,
        realIp: s.trustedProxies.length > 0,
        trustedProxies: s.trustedProxies,
        drainSeconds: DRAIN_SECONDS,
        serversDir: NGINX_INCLUDE_DIRS.servers,
        pidFile: NGINX_PID_FILE,
        njsModule: NJS_MODULE,
        authModule: AUTH_MODULE,
        authModulePath: AUTH_MODULE_PATH,
        zones: Object.values(AUTH_ZONES),
    });
}

export function renderNginxAuthModule(s: Pick<Settings, "bcryptCost">): string {
    return renderAuthModule(s.bcryptCost, NGINX_CONTROL_DIR);
}

/** The port-80 server: ACME challenges for any name, the rest to the redirect installed with HTTPS. */
export function renderHttpServer(): string {
    return renderTemplate("http-server.conf.mustache", {
        webroot: WEBROOT,
        redirectDir: NGINX_INCLUDE_DIRS.redirect,
        httpPort: NGINX_HTTP_PORT,
    });
}

/** Port 80's redirect to the HTTPS server, installed together with it (after its certificate). */
export function renderHttpsRedirect(s: Settings): string {
    return `# Managed by the private-registry Pulumi program: installed with the HTTPS server.\nreturn 301 https://${publicHost(s)}$request_uri;\n`;
}

export function renderHttpsServer(s: Settings): string {
    return renderTemplate("https-server.conf.mustache", {
        serverNames: [s.domain, ...s.domains].join(" "),
        httpsPort: NGINX_HTTPS_PORT,
        liveDir: LIVE_CERTIFICATE_DIR,
        registrySocket: REGISTRY_SOCKET,
        readonlyRegistrySocket: REGISTRY_READONLY_SOCKET,
        hstsMaxAge: HSTS_MAX_AGE,
        realm: AUTH_REALM,
        authModule: AUTH_MODULE,
        authLocation: AUTH_LOCATION,
        verifyPort: NGINX_VERIFY_PORT,
        verifyPath: VERIFY_PATH,
        gcRetryAfterSeconds: GC_RETRY_AFTER_SECONDS,
        accessDir: NGINX_INCLUDE_DIRS.access,
        htpasswdVariable: HTPASSWD_VARIABLE,
        usersVariable: USERS_VARIABLE,
        pullUsersVariable: PULL_USERS_VARIABLE,
        grantsVariable: GRANTS_VARIABLE,
        pathVariable: PATH_VARIABLE,
        upstreamUriVariable: UPSTREAM_URI_VARIABLE,
        // With mirrors: their host names routed to their own registries (configs/mirrors.ts).
        upstream: proxyUpstream(s),
        mirrorRouting: renderMirrorRouting(s),
        noUsersFile: `${NGINX_AUTH_DIR}/no-users-installed`,
    });
}

export function renderFallbackConf(): string {
    return renderTemplate("fallback.conf.mustache", {
        confDir: NGINX_CONF_DIR,
        webroot: WEBROOT,
        httpPort: NGINX_HTTP_PORT,
        pidFile: NGINX_PID_FILE,
    });
}

/** How often nginx looks at the certbot's deploy marker (a renewed certificate is served within this). */
export const DEPLOY_POLL_SECONDS = 2;

/** The nginx container's command (configs/templates/nginx-entrypoint.sh.mustache). */
export function renderNginxEntrypoint(): string {
    return renderTemplate("nginx-entrypoint.sh.mustache", {
        fallbackDir: "/etc/nginx/fallback",
        includeDirs: Object.values(NGINX_INCLUDE_DIRS).map((d) => `${NGINX_CONF_DIR}/${d}`),
        fallbackConf: renderFallbackConf().trimEnd(),
        confDir: NGINX_CONF_DIR,
        activeDir: NGINX_ACTIVE_DIR,
        deployMarker: DEPLOY_MARKER,
        pollSeconds: DEPLOY_POLL_SECONDS,
    });
}

/** How long a host has to serve /v2/ (401) after its containers change, before the next host's turn. */
export const READINESS_SECONDS = 120;

/** The readiness check of a host (configs/templates/readiness.sh.mustache), run in its nginx container. */
export function renderReadinessCheck(s: Pick<Settings, "domain" | "rolloutPauseSeconds">): string {
    return renderTemplate("readiness.sh.mustache", {
        seconds: READINESS_SECONDS,
        pauseSeconds: s.rolloutPauseSeconds,
        socket: REGISTRY_SOCKET,
        domain: s.domain,
        port: NGINX_HTTPS_PORT,
    });
}
