// The bed of a multi-host stack, shared by its live test and its benchmark: one stack of the
// program with hosts a and b on this machine's Docker engine (their own ports; b reached over
// tcp:// with TLS, test/live/dockerTlsProxy.ts), a real S3
// bucket (versitygw), Redis run by the stack on host a, certificates by DNS-01 (bind9, each
// host's own Pebble), and nginx load balancers in front (test/live/loadBalancer.ts), the stack
// trusting the first one's X-Forwarded-For (trustedProxies).
import { randomBytes } from "node:crypto";
import { Bed } from "./bed";
import { Bind9 } from "./bind9";
import { DockerClient, Endpoint } from "./client";
import { DockerTlsProxy } from "./dockerTlsProxy";
import { Deployed, Engine, Step } from "./engine";
import { LoadBalancer } from "./loadBalancer";
import { S3Server } from "./s3server";
import { sourceAddress, sourceAddresses } from "./sourceAddresses";

const ZONE = "registry.test";
/** The bucket the hosts share (no rootDirectory: distribution's keys start at docker/registry/v2/). */
export const MULTI_HOST_BUCKET = "registry-hosts";
export const LOCAL_ENGINE = "unix:///var/run/docker.sock";
/** The load balancers' own addresses (sourceAddresses; the auth test and the benchmark use others). */
const LB_SOURCE_FIRST = 60;
const LB_SOURCES = [sourceAddress(LB_SOURCE_FIRST), sourceAddress(LB_SOURCE_FIRST + 1)];
/** The spare port (Bed.ports.spare) of the single-host stack a test grows into hosts a and b. */
const ONE_HOST_PORT = 7;

export class MultiHostBed {
    readonly engine = new Engine();
    readonly bed: Bed;
    readonly bind9: Bind9;
    readonly s3 = new S3Server();
    readonly client = new DockerClient();
    readonly user = { name: "alice", password: `alice-${randomBytes(9).toString("hex")}` };
    readonly redisPassword = `redis-${randomBytes(12).toString("hex")}`;
    readonly hosts: { name: string; port: number }[];
    /**
     * The load balancer in front of every host, whose X-Forwarded-For the stack trusts, and one in
     * front of host a alone (the benchmark's baseline), which the stack does not trust: behind
     * it, every client is the balancer.
     */
    readonly lb: LoadBalancer;
    readonly lbOne: LoadBalancer;
    /** Spare ports of the bed for Redis: the stack's, a test's own, and one nothing listens on. */
    readonly redisPorts: { stack: number; external: number; closed: number };
    /** Settings later `up`s keep (a change of them replaces the registries). */
    kept: Record<string, unknown> = {};
    address = "";
    /** The hosts' certificates' roots (each host's Pebble). */
    roots = "";
    readonly ep: Record<string, Endpoint> = {};
    /** The steps of each upgrade through the commits of start's `upgradeFrom`. */
    readonly upgrades: { commit: string; steps: Step[] }[] = [];
    /** Host b's Docker daemon: this engine over tcp:// with TLS (client certificates). */
    daemonB?: DockerTlsProxy;
    private readonly daemonPort: number;

    constructor(
        readonly label: string,
        slot: number,
    ) {
        this.bed = new Bed(label, this.engine, slot);
        this.bind9 = new Bind9(label, this.bed.images.BIND9_IMAGE, ZONE, this.bed.ports.dns);
        const [portB, lbPort, lbOnePort, redisPort, externalRedisPort, closedPort, daemonPort] = this.bed.ports.spare;
        this.daemonPort = daemonPort;
        this.hosts = [
            { name: "a", port: this.bed.ports.https },
            { name: "b", port: portB },
        ];
        const [lbSource, lbOneSource] = LB_SOURCES;
        this.lb = new LoadBalancer(label, "lb", this.bed.images.NGINX_IMAGE, this.bed.domain, lbPort, lbSource);
        this.lbOne = new LoadBalancer(label, "lb-one", this.bed.images.NGINX_IMAGE, this.bed.domain, lbOnePort, lbOneSource);
        this.redisPorts = { stack: redisPort, external: externalRedisPort, closed: closedPort };
    }

    fqdn(node: string): string {
        return `${node}.${this.bed.domain}`;
    }

    /** Container name prefix of host `node`. */
    prefix(node: string): string {
        return `${this.bed.prefix}-${node}`;
    }

    /** host:port of the shared name at a load balancer. */
    shared(lb = this.lb): string {
        return `${this.bed.domain}:${lb.port}`;
    }

    /** host:port of a host's own name. */
    own(node: string): string {
        return `${this.fqdn(node)}:${this.hosts.find((h) => h.name === node)!.port}`;
    }

    /** The stack config: `redis` (default: run by the stack on host a) and more settings. */
    config(redis?: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
        return this.bed.config({
            users: { [this.user.name]: { access: "push", password: this.user.password } },
            acmeChallenge: "dns",
            dnsPlugin: "rfc2136",
            dnsCredentials: { server: this.bind9.address, port: this.bind9.port, name: this.bind9.key.name, secret: this.bind9.key.secret },
            dnsPropagationSeconds: 1,
            pebbleDnsServer: this.bind9.server,
            httpPort: 0,
            httpsPort: this.lb.port,
            storage: {
                driver: "s3",
                bucket: MULTI_HOST_BUCKET,
                endpoint: this.s3.endpoint,
                accessKey: this.s3.accessKey,
                secretKey: this.s3.secretKey,
                caCertificate: this.s3.caPem,
            },
            // Host a through the engine's socket, host b through tcp:// with TLS.
            hosts: this.hosts.map((h) =>
                h.name === "b" && this.daemonB
                    ? { name: h.name, dockerHost: this.daemonB.dockerHost, httpsPort: h.port, tls: this.daemonB.client }
                    : { name: h.name, dockerHost: LOCAL_ENGINE, httpsPort: h.port },
            ),
            redis: redis ?? { address: `${this.address}:${this.redisPorts.stack}`, password: this.redisPassword, runOn: "a" },
            redisImage: this.bed.images.REDIS_IMAGE,
            trustedProxies: [this.lb.source],
            ...this.kept,
            ...extra,
        });
    }

    /**
     * The same stack as an existing single-host one: no `hosts` and no Redis, the same bucket and
     * DNS-01, nginx on a port of its own (the two hosts' containers are created before its own are
     * deleted).
     */
    oneHostConfig(): Record<string, unknown> {
        const config = this.config();
        delete config.hosts;
        delete config.redis;
        return { ...config, httpsPort: this.bed.ports.spare[ONE_HOST_PORT] };
    }

    /** Where a client reaches the single-host stack of oneHostConfig, verifying against `ca`. */
    oneHostEndpoint(ca: string): Endpoint {
        return { domain: this.bed.domain, address: this.address, httpPort: 0, httpsPort: this.bed.ports.spare[ONE_HOST_PORT], ca };
    }

    /**
     * bind9 and the bucket, the stack, the load balancers, and a client logged in everywhere.
     * With `oneHostFirst`, the stack is first deployed with one host (oneHostConfig), handed to
     * it, and then grown to hosts a and b, as an existing stack would. With `upgradeFrom`
     * (commits), the program at the first deploys the stack first (one host and then two), each
     * next one upgrades it (their steps in `upgrades`), and then this one: the result's steps are
     * that last upgrade's.
     */
    async start(opts: { oneHostFirst?: (up: Deployed) => Promise<void>; upgradeFrom?: string[] } = {}): Promise<Deployed> {
        const { oneHostFirst, upgradeFrom = [] } = opts;
        const [first] = upgradeFrom;
        const up = (config: Record<string, unknown>) => (first ? this.bed.upAt(first, config) : this.bed.up(config));
        await this.bind9.start();
        this.address = this.bind9.address;
        await this.s3.start();
        this.s3.createBucket(MULTI_HOST_BUCKET);
        if (oneHostFirst) await oneHostFirst(await up(this.oneHostConfig()));
        this.daemonB = new DockerTlsProxy(this.address, this.daemonPort);
        await this.daemonB.start();
        await this.bed.addHostNames(this.hosts.map((h) => this.fqdn(h.name)));
        await sourceAddresses(LB_SOURCE_FIRST, LB_SOURCES.length);
        // The stack at each commit in turn, then this program's.
        for (const commit of upgradeFrom) this.upgrades.push({ commit, steps: (await this.bed.upAt(commit, this.config())).steps });
        const deployed = await this.bed.up(this.config());
        this.roots = deployed.outputs.caRoot.value as string;
        for (const h of this.hosts) {
            this.ep[h.name] = { domain: this.fqdn(h.name), address: this.address, httpPort: 0, httpsPort: h.port, ca: this.roots };
            this.bed.trustRoot(this.own(h.name), this.roots);
        }
        const backend = (node: string) => `${this.address}:${this.hosts.find((h) => h.name === node)!.port}`;
        await this.lb.start([backend("a"), backend("b")], this.roots);
        await this.lbOne.start([backend("a")], this.roots);
        for (const lb of [this.lb, this.lbOne]) {
            this.ep[lb.name] = { domain: this.bed.domain, address: this.address, httpPort: 0, httpsPort: lb.port, ca: lb.ca };
            this.bed.trustRoot(this.shared(lb), lb.ca);
        }
        for (const host of [this.shared(), this.shared(this.lbOne), ...this.hosts.map((h) => this.own(h.name))]) {
            const login = await this.client.login(host, this.user.name, this.user.password);
            if (login.code !== 0) throw new Error(`docker login ${host}: ${login.stderr}`);
        }
        return deployed;
    }

    async cleanup(): Promise<void> {
        this.client.cleanup();
        await this.bed.cleanup();
        this.bind9.cleanup();
        this.lb.cleanup();
        this.lbOne.cleanup();
        await this.s3.stop();
        await this.daemonB?.stop();
        await this.engine.close();
    }
}
