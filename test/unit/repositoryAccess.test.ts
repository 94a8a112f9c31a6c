// Per-repository access: `users.<name>.repositories` parsed and refused with the key named,
// what a user's globs mean (settings/repositories.ts), and the rules nginx gets
// (configs/htpasswd.ts). The module's decisions in a real nginx: test/nginx/repositoryAccess.test.ts.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Credential, renderAccessRules, renderGrants, setLong } from "../../configs/htpasswd";
import { installedUsers } from "../../configs/install";
import { renderHttpsServer, renderMainConf } from "../../configs/nginx";
import { ConfigError, parseSettings } from "../../settings/parse";
import { leastAccess, orderedGrants, repositoryAccess } from "../../settings/repositories";
import type { Access, UserAccess } from "../../settings/types";

const parse = (users: unknown) => parseSettings({ domain: "a.example.com", users: JSON.stringify(users) }, "dev");
const problemsOf = (users: unknown): string => {
    try {
        parse(users);
    } catch (e) {
        if (e instanceof ConfigError) return e.problems.join("\n");
        throw e;
    }
    return "";
};
const user = (access: UserAccess, repositories: Record<string, Access> = {}) => ({ access, repositories });

describe("users.<name>.repositories: parsed and validated", () => {
    test("a map of glob to pull|push beside access, which may be none; both default as documented", () => {
        const s = parse({ ci: { access: "none", repositories: { "team-a/*": "push", "**": "pull" } }, dev: {} });
        assert.deepEqual(
            s.users.map((u) => [u.name, u.access, u.repositories]),
            [
                ["ci", "none", { "team-a/*": "push", "**": "pull" }],
                ["dev", "push", {}],
            ],
        );
    });

    test("refused with the key named: a bad glob, a bad access value, a repositories that is no map, none outside access", () => {
        const cases: [unknown, RegExp][] = [
            [
                { ci: { repositories: { "Team-A/*": "push" } } },
                /private-registry:users\.ci\.repositories: repository glob "Team-A\/\*": expected lower-case/,
            ],
            [{ ci: { repositories: { "/team-a": "push" } } }, /users\.ci\.repositories: repository glob "\/team-a"/],
            [{ ci: { repositories: { "a//b": "push" } } }, /users\.ci\.repositories: repository glob "a\/\/b"/],
            [{ ci: { repositories: { "a/***": "push" } } }, /users\.ci\.repositories: repository glob "a\/\*\*\*"/],
            [{ ci: { repositories: { "a b": "push" } } }, /users\.ci\.repositories: repository glob "a b"/],
            [
                { ci: { repositories: { "team-a/*": "write" } } },
                /private-registry:users\.ci\.repositories\.team-a\/\*: expected push or pull, got "write"/,
            ],
            [{ ci: { repositories: { "team-a/*": "none" } } }, /users\.ci\.repositories\.team-a\/\*: expected push or pull, got "none"/],
            [
                { ci: { repositories: ["team-a/*"] } },
                /private-registry:users\.ci\.repositories: expected a map of repository glob to pull or push/,
            ],
            [{ ci: { access: "read" } }, /private-registry:users\.ci\.access: expected push, pull or none, got "read"/],
            [{ ci: { repos: {} } }, /private-registry:users\.ci: unknown field "repos"; expected access, repositories or password/],
        ];
        for (const [users, expected] of cases) assert.match(problemsOf(users), expected, JSON.stringify(users));
    });
});

describe("what the globs mean", () => {
    test("* stays within a path segment, ** crosses segments, ? is one character but /", () => {
        const u = user("none", { "team-a/*": "push", "lib/**": "pull", "team-?/web": "pull" });
        assert.equal(repositoryAccess(u, "team-a/app"), "push");
        assert.equal(repositoryAccess(u, "team-a/x/y"), "none");
        assert.equal(repositoryAccess(u, "team-a"), "none");
        assert.equal(repositoryAccess(u, "lib/a/b/c"), "pull");
        assert.equal(repositoryAccess(u, "team-b/web"), "pull");
        assert.equal(repositoryAccess(u, "team-bb/web"), "none");
    });

    test("the most specific matching glob decides, whatever the order written; pull between equals; access elsewhere", () => {
        const one = user("push", { "prod/**": "pull", "prod/scratch/*": "push" });
        const other = user("push", { "prod/scratch/*": "push", "prod/**": "pull" });
        for (const u of [one, other]) {
            assert.equal(repositoryAccess(u, "prod/scratch/tmp"), "push");
            assert.equal(repositoryAccess(u, "prod/web"), "pull");
            assert.equal(repositoryAccess(u, "dev/web"), "push");
        }
        assert.equal(repositoryAccess(user("none", { "a*": "push", "*a": "pull" }), "aa"), "pull", "equally specific: pull");
        assert.deepEqual(
            orderedGrants({ "**": "pull", "team-a/*": "push", "team-a/app": "pull", "*a": "push", "a*": "pull" }).map(([g]) => g),
            ["team-a/app", "team-a/*", "a*", "*a", "**"],
        );
    });

    test("the least access decides the catalog: access, unless ** covers every repository", () => {
        assert.equal(leastAccess(user("push")), "push");
        assert.equal(leastAccess(user("pull", { "team-a/*": "push" })), "pull");
        assert.equal(leastAccess(user("push", { "prod/*": "pull" })), "pull");
        assert.equal(leastAccess(user("none", { "team-a/*": "push" })), "none");
        assert.equal(leastAccess(user("none", { "**": "pull", "tools/*": "push" })), "pull");
        assert.equal(leastAccess(user("none", { "**": "push" })), "push");
    });
});

describe("the rules nginx gets", () => {
    test("each user's globs in the order they are tried; the old module's pull-only list holds everyone not push everywhere", () => {
        const users: Pick<Credential, "name" | "access" | "repositories">[] = [
            { name: "ci", access: "none", repositories: { "**": "pull", "team-a/*": "push" } },
            { name: "dev", access: "pull" },
            { name: "ops", access: "push", repositories: {} },
            { name: "mixed", access: "push", repositories: { "prod/*": "pull" } },
        ];
        assert.equal(renderGrants(users), ";ci none team-a/*=push **=pull;dev pull;ops push;mixed push prod/*=pull;");
        const rules = renderAccessRules(users, "/etc/nginx/auth/htpasswd-x");
        assert.match(rules, /^set \$registry_users "ci dev ops mixed";$/m);
        assert.match(rules, /^set \$registry_pull_users "ci dev mixed";$/m);
        assert.match(rules, /^set \$registry_grants ";ci none team-a\/\*=push \*\*=pull;dev pull;ops push;mixed push prod\/\*=pull;";$/m);
    });

    test("rules of many users are set in chunks under nginx's 4 KiB parameter limit, and read back whole", () => {
        const users = Array.from({ length: 300 }, (_, i) => ({
            name: `user-${i}`,
            access: "none" as const,
            repositories: { [`team-${i}/*`]: "push" as const, [`shared/team-${i}-*`]: "pull" as const },
        }));
        const rules = renderAccessRules(users, "/etc/nginx/auth/htpasswd-x");
        const lines = rules.split("\n");
        assert.ok(Math.max(...lines.map((l) => l.length)) < 4096 - 100, "every line well under nginx's buffer");
        const value = (variable: string) =>
            lines
                .filter((l) => l.startsWith(`set $${variable} "`))
                .map((l, i) => {
                    const m = /^set \$\w+ "(.*)";$/.exec(l)![1];
                    assert.equal(m.startsWith(`\${${variable}}`), i > 0, `${variable}: chunk ${i} appends`);
                    return i > 0 ? m.slice(variable.length + 3) : m;
                })
                .join("");
        assert.equal(value("registry_grants"), renderGrants(users));
        assert.ok(lines.filter((l) => l.startsWith("set $registry_grants ")).length > 1, "the grants took several lines");
        const names = users.map((u) => u.name);
        assert.deepEqual(installedUsers(rules), names);
        assert.deepEqual(setLong("$v", "short"), ['set $v "short";']);
    });

    test("the HTTPS server keeps the request's path for the check, proxies the check's URI when it sets one, and passes no form bodies", () => {
        const s = parseSettings({ domain: "registry.test", acmeServer: "pebble" }, "dev");
        const https = renderHttpsServer(s);
        assert.match(https, /set \$registry_grants "";/);
        assert.match(https, /set \$registry_path \$uri;/);
        assert.match(https, /auth_request_set \$registry_upstream_uri \$sent_http_x_registry_upstream_uri;/);
        assert.match(https, /proxy_pass http:\/\/docker-registry\$registry_upstream_uri;/);
        assert.match(https, /proxy_set_header Content-Type \$registry_content_type;/);
        assert.match(renderMainConf(s), /map \$http_content_type \$registry_content_type \{/);
    });
});
