// RegistryUsers: the registry's users as bcrypt lines in nginx's htpasswd file, plus per-user
// access rules (pull-only users get 403 on writes), installed as one unit. Passwords come
// from secret config or are generated; the file changes only when a password does. A
// password change replaces no container.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { Credential, renderAccessRules, renderHtpasswd } from "../configs/htpasswd";
import { droppedUsersWarning, installedUsers, renderUsersInstall } from "../configs/install";
import { passwordProblem } from "../configs/secret";
import { Settings } from "../configs/settings";
import { containerScript } from "./containerScript";
import { secretOutput } from "./secretOutput";

export interface RegistryUsersArgs {
    settings: Pick<Settings, "users" | "bcryptCost" | "dockerHost" | "dockerTls">;
    /** Name of the running nginx container. */
    nginxContainer: pulumi.Input<string>;
    /** Its id: a new nginx container gets the users again (its auth volume may be new). */
    nginxId: pulumi.Input<string>;
    /** Every user's password, in settings.users' order (userPasswords: one set for every host). */
    passwords: pulumi.Output<string>[];
}

/** Pulumi's type of a generated password. */
const PASSWORD_TYPE = "random:index/randomPassword:RandomPassword";

/**
 * Each user's password, in order: the one configured, or a generated one kept in the state as
 * `<name>-<user>-password` under `parent`, whatever the number of hosts. `formerly`: where a
 * single host's RegistryUsers kept them before (formerUsers), as aliases, so that a stack keeps
 * its generated passwords when it upgrades and when it grows to several hosts.
 */
export function userPasswords(
    name: string,
    users: Settings["users"],
    parent: pulumi.Resource,
    formerly?: { name: string; parents: pulumi.Output<string>[] },
): pulumi.Output<string>[] {
    return users.map((u) => {
        if (u.password) return secretOutput(u.password, `users.${u.name}.password`, passwordProblem);
        const aliases = (formerly?.parents ?? []).map((urn) =>
            pulumi.createUrn(`${formerly!.name}-${u.name}-password`, PASSWORD_TYPE, urn),
        );
        return new random.RandomPassword(`${name}-${u.name}-password`, { length: 32, special: false }, { parent, aliases }).result;
    });
}

/**
 * Where a single host's RegistryUsers named `name` under `parent` kept its generated passwords,
 * under either of its types (`Htpasswd` before it was renamed).
 */
export function formerUsers(name: string, parent: pulumi.Resource): { name: string; parents: pulumi.Output<string>[] } {
    return {
        name,
        parents: ["registry:index:Htpasswd", "registry:index:RegistryUsers"].map((type) => pulumi.createUrn(name, type, parent)),
    };
}

export class RegistryUsers extends pulumi.ComponentResource {
    /** Every user's password, by user name (secret). */
    public readonly passwords: pulumi.Output<Record<string, string>>;

    constructor(name: string, args: RegistryUsersArgs, opts: pulumi.ComponentResourceOptions = {}) {
        // Formerly `Htpasswd`: the alias keeps existing stacks' users (and their children) in place.
        super(
            "registry:index:RegistryUsers",
            name,
            {},
            { ...opts, aliases: [...(opts.aliases ?? []), { type: "registry:index:Htpasswd" }] },
        );
        const settings = args.settings;

        // Per-stack key for the deterministic bcrypt salts, secret in the state. A RandomPassword,
        // not RandomBytes: RandomBytes uses its value as the resource id, which state keeps in clear.
        const saltKey = new random.RandomPassword(`${name}-salt-key`, { length: 64, special: false }, { parent: this });

        const passwords = args.passwords;

        const users = pulumi
            .all(passwords)
            .apply((pws) => settings.users.map((u, i): Credential => ({ name: u.name, access: u.access, password: pws[i] })));

        // The htpasswd file and the access rules go live together, with one reload.
        const script = pulumi.secret(
            pulumi.all([users, saltKey.result]).apply(([list, key]) =>
                renderUsersInstall(
                    renderHtpasswd(list, key, settings.bcryptCost),
                    (file) => renderAccessRules(list, file),
                    list.map((u) => u.name),
                ),
            ),
        );

        const install = containerScript(
            `${name}-install`,
            { docker: settings, container: args.nginxContainer, script, triggers: [args.nginxId] },
            { parent: this },
        );

        // In a preview, an update's output is still the last run's: who is installed now. Users
        // it installed that are no longer declared lose access with this update: said before it.
        install.stdout.apply((out) => {
            if (!pulumi.runtime.isDryRun()) return;
            const declared = settings.users.map((u) => u.name);
            const dropped = installedUsers(out).filter((u) => !declared.includes(u));
            if (dropped.length) pulumi.log.warn(droppedUsersWarning(dropped), this);
        });

        // Handed out only once nginx has them: a consumer never gets a password that fails.
        this.passwords = pulumi.secret(
            pulumi.all([users, install.stdout]).apply(([list]) => Object.fromEntries(list.map((u) => [u.name, u.password]))),
        );

        this.registerOutputs({ passwords: this.passwords });
    }
}
