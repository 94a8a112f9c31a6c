// PrivateRegistry: a Docker registry behind nginx with ACME TLS and basic auth, on one Docker
// host you own; only nginx reaches the registry (through a socket volume). Use it from any
// Pulumi program: `new PrivateRegistry("registry", { domain: "registry.example.com" })`.
// The constructor declares one host's stack (components/registryHost.ts) for its Docker host,
// or one per host of `hosts`, sharing the http.secret, the users and Redis.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { MirrorOutput, mirrorOutput } from "../configs/mirrors";
import { publicHost } from "../configs/nginx";
import { hostSettings } from "../settings/hosts";
import { ARGS_NAMING, ConfigError, parseSettings } from "../settings/parse";
import { Settings } from "../settings/types";
import { Labels, redisContainer } from "./containers";
import { PrivateRegistryArgs } from "./privateRegistryArgs";
import { RegistryHost } from "./registryHost";
import { formerUsers, userPasswords } from "./registryUsers";
import { DockerTarget, dockerProvider } from "./dockerTarget";

export type {
    PrivateRegistryArgs,
    RegistryHostArgs,
    RegistryMirrorArgs,
    RegistryRedisArgs,
    RegistryStorageArgs,
    RegistryUserArgs,
    RetentionRuleArgs,
} from "./privateRegistryArgs";

/** The volumes that hold what a registry must keep. */
export interface RegistryVolumes {
    /** The registry's data (filesystem storage). */
    data: string;
    /** The certificates and certbot's account. */
    certificates: string;
}

/** One of several hosts, as the `hosts` output lists it. */
export interface RegistryHostOutput {
    name: string;
    /** `<name>.<domain>[:port]`. */
    host: string;
    url: string;
    dockerHost: string;
}

/**
 * Pulumi's type of the component: `<package>:index:<class>`, as the component package
 * (plugin/, package name `private-registry`) exposes it to every Pulumi language.
 */
export const PRIVATE_REGISTRY_TYPE = "private-registry:index:PrivateRegistry";
/** Its type before it was a package's. */
const FORMER_TYPE = "registry:index:PrivateRegistry";

export class PrivateRegistry extends pulumi.ComponentResource {
    /** `https://<host>`: the registry's address. */
    public readonly url: pulumi.Output<string>;
    /** Host (and port) to tag images with: `docker push <host>/team/app:1`. */
    public readonly host: pulumi.Output<string>;
    public readonly userNames: pulumi.Output<string[]>;
    /** Passwords by user name (secret), handed out once nginx has them. */
    public readonly passwords: pulumi.Output<Record<string, string>>;
    /** Docker config JSON (`~/.docker/config.json`) for the first user (secret). */
    public readonly dockerConfigJson: pulumi.Output<string>;
    /** PEM root of the issuing CA when it is not publicly trusted (Pebble, a custom CA). */
    public readonly caRoot: pulumi.Output<string | undefined>;
    /** The certificate's expiry (ISO 8601) as of the last issuance by `pulumi up`. */
    public readonly certificateExpiry: pulumi.Output<string>;
    /** Names of the data and certificate volumes. */
    public readonly volumes: pulumi.Output<RegistryVolumes>;

    /** Several hosts: each host's name, its own address (`<name>.<domain>[:port]`) and Docker host. Undefined with one. */
    public readonly hosts: pulumi.Output<RegistryHostOutput[] | undefined>;

    /** Each pull-through mirror: its host and URL, and client snippets (daemon.json for Docker Hub, containerd's hosts.toml). */
    public readonly mirrors: pulumi.Output<MirrorOutput[]>;

    constructor(name: string, args: PrivateRegistryArgs, opts: pulumi.ComponentResourceOptions = {}) {
        // Stacks made before keep every resource through the alias of the former type.
        super(PRIVATE_REGISTRY_TYPE, name, {}, { ...opts, aliases: [...(opts.aliases ?? []), { type: FORMER_TYPE }] });
        const settings = this.settings(name, args);
        const labels: Labels = [
            { label: "org.opencontainers.image.vendor", value: "private-registry" },
            { label: "private-registry.stack", value: settings.stack },
            ...Object.entries(settings.labels).map(([label, value]) => ({ label, value })),
        ];
        // One http.secret for every host: an upload begun on one host goes on at another.
        const httpSecret = new random.RandomPassword(`${name}-http-secret`, { length: 48, special: false }, { parent: this }).result;

        // The users' passwords, the same on every host, under one name whatever the number of
        // hosts: a single host kept them under its RegistryUsers before (aliases), so neither an
        // upgrade nor a second host makes new ones.
        const formerSelf = pulumi.createUrn(name, FORMER_TYPE, opts.parent);
        const passwords = userPasswords(`${name}-users`, settings.users, this, formerUsers(`${name}-htpasswd`, [this.urn, formerSelf]));
        const given = this.dockerProviderGiven(settings, args.dockerHost !== undefined);
        let declared: RegistryHost[];
        if (settings.hosts.length === 0) {
            const parts = {
                settings,
                node: "",
                labels,
                provider: given?.provider ?? dockerProvider(`${name}-docker`, settings, { parent: this }),
                docker: given?.target ?? settings,
                httpSecret,
                passwords,
            };
            declared = [new RegistryHost(name, parts, { parent: this })];
        } else {
            // Several hosts: one at a time on updates.
            // Each host's own settings and provider, once.
            const perHost = settings.hosts.map((h, i) => {
                // No host waits for the last one: no pause after it.
                const own = { ...hostSettings(settings, h), ...(i === settings.hosts.length - 1 ? { rolloutPauseSeconds: 0 } : {}) };
                return { host: h, settings: own, provider: dockerProvider(`${name}-${h.name}-docker`, own, { parent: this }) };
            });
            const runOn = perHost.find((p) => p.host.name === settings.redis?.runOn);
            const redis =
                runOn &&
                redisContainer(`${name}-${runOn.host.name}`, settings, runOn.host, labels, { parent: this, provider: runOn.provider });
            declared = [];
            for (const p of perHost) {
                const parts = {
                    settings: p.settings,
                    node: p.host.name,
                    labels,
                    provider: p.provider,
                    docker: p.settings,
                    httpSecret,
                    passwords,
                    redis,
                    after: declared[declared.length - 1]?.ready,
                };
                declared.push(new RegistryHost(`${name}-${p.host.name}`, parts, { parent: this }));
            }
        }
        const [first] = declared;

        const host = publicHost(settings);
        const firstUser = settings.users[0].name;
        this.host = pulumi.output(host);
        this.url = pulumi.output(`https://${host}`);
        this.userNames = pulumi.output(settings.users.map((u) => u.name));
        this.passwords = first.users.passwords;
        this.dockerConfigJson = pulumi.secret(
            first.users.passwords.apply((pw) =>
                JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${firstUser}:${pw[firstUser]}`).toString("base64") } } }),
            ),
        );
        // Each host's CA root (one per local Pebble), once each.
        this.caRoot = pulumi
            .all(declared.map((d) => d.tls.caRoot))
            .apply((roots) => (roots[0] === undefined ? undefined : [...new Set(roots)].join("")));
        // The soonest expiry of any host's certificate.
        this.certificateExpiry = pulumi.all(declared.map((d) => d.tls.expiry)).apply((dates) => [...dates].sort()[0]);
        this.volumes = pulumi.output({ data: first.volumes.data.name, certificates: first.volumes.certs.name });
        this.hosts = pulumi.output(
            settings.hosts.length === 0
                ? undefined
                : settings.hosts.map((h) => {
                      const own = publicHost({ domain: h.fqdn, publish: h.publish });
                      return { name: h.name, host: own, url: `https://${own}`, dockerHost: h.dockerHost };
                  }),
        );
        this.mirrors = pulumi.output(settings.mirrors.map((m) => mirrorOutput(m, settings.publish.httpsPort)));
        this.registerOutputs({
            mirrors: this.mirrors,
            url: this.url,
            host: this.host,
            userNames: this.userNames,
            passwords: this.passwords,
            dockerConfigJson: this.dockerConfigJson,
            caRoot: this.caRoot,
            certificateExpiry: this.certificateExpiry,
            volumes: this.volumes,
            hosts: this.hosts,
        });
    }

    /**
     * The Docker provider given to this component (`provider`, or `providers` with a docker
     * entry, also from a parent), for a single host: its resources use it, and the commands reach
     * the provider's host (the settings' dockerHost when it names none). Several hosts have a
     * daemon each (hosts[i].dockerHost): a provider given then is refused.
     */
    private dockerProviderGiven(
        settings: Settings,
        dockerHostGiven: boolean,
    ): { provider: docker.Provider; target: DockerTarget } | undefined {
        const provider = this.getProvider("docker:index:Container");
        if (provider === undefined) return undefined;
        if (!(provider instanceof docker.Provider))
            throw new pulumi.ResourceError("the docker provider given to PrivateRegistry is not a @pulumi/docker Provider", this);
        if (settings.hosts.length > 0)
            throw new pulumi.ResourceError(
                "a docker provider given to PrivateRegistry serves one host; with `hosts`, each host's own dockerHost (and tls) is used: pass no provider",
                this,
            );
        const host = provider.host.apply((h) => {
            if (h && dockerHostGiven && h !== settings.dockerHost)
                throw new pulumi.ResourceError(
                    `dockerHost ${settings.dockerHost} is not the host of the docker provider given to PrivateRegistry (${h}): give one of them, or the same`,
                    this,
                );
            return h || settings.dockerHost;
        });
        return { provider, target: { dockerHost: host, dockerTls: settings.dockerTls } };
    }

    /**
     * Defaults and validation (settings/parse.ts); a bad field fails here, naming it. Docker
     * names start with `<name>-<stack>` unless namePrefix is given, so two registries of one
     * program never share a container, volume or network (the stack program's is `registry`).
     */
    private settings(name: string, args: PrivateRegistryArgs): Settings {
        const values = { ...args, namePrefix: args.namePrefix || `${name}-${pulumi.getStack()}` };
        try {
            return parseSettings(values as unknown as Record<string, unknown>, pulumi.getStack(), ARGS_NAMING, "PrivateRegistry args");
        } catch (e) {
            if (e instanceof ConfigError) throw new pulumi.ResourceError(e.message, this);
            throw e;
        }
    }
}
