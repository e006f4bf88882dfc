"""Sites → servers: which listener serves which site, and the routes of each server.

Ports of `httpcaddyfile/addresses.go` (`mapAddressToProtocolToServerBlocks`,
`consolidateAddrMappings`, `listenersForServerBlockAddress`) and of
`httptype.go` (`serversFromPairings`, `compileEncodedMatcherSets`,
`appendSubrouteToRouteList`, `detectConflictingSchemes`, site specificity
sorting): every site key maps to listener addresses (port from the key, the
scheme, or http_port/https_port; host from `bind`/`default_bind`); sites that
share listeners become one server whose routes match each site's hosts, most
specific site first.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from rpc.compiler.addresses import Address, join_host_port, split_host_port
from rpc.compiler.connpolicies import consolidate_policies, shield_from_wildcard_client_auth
from rpc.compiler.directives.helper import ConfigValue, Lowering, build_subroute
from rpc.compiler.errors import Diagnostics
from rpc.compiler.gosort import slice_stable
from rpc.compiler.ir.config import AutoHTTPS, Server, ServerLogs
from rpc.compiler.ir.handlers import Invoke
from rpc.compiler.ir.logs import SiteLog
from rpc.compiler.ir.matchers import MatchHost, MatchPath
from rpc.compiler.ir.routes import MatcherSet, Route, Subroute
from rpc.compiler.ir.tls import ConnectionPolicy
from rpc.compiler.source import Span
from rpc.compiler.walk import nodes

__all__ = ["Pairing", "SiteBlock", "build_servers", "pair_sites"]

DEFAULT_HTTP_PORT = 80
DEFAULT_HTTPS_PORT = 443


@dataclass
class SiteBlock:
    """A site during lowering: its keys, and the config values its directives produced."""

    keys: tuple[str, ...]
    addresses: tuple[Address, ...]
    span: Span | None = None
    braced: bool = True
    pile: dict[str, list[ConfigValue]] = field(default_factory=dict)

    def subset(self, indices: list[int]) -> SiteBlock:
        """The same site restricted to some of its keys (one listener's share)."""
        return replace(
            self,
            keys=tuple(self.keys[i] for i in indices),
            addresses=tuple(self.addresses[i] for i in indices),
        )

    def same_as(self, other: SiteBlock) -> bool:
        return self.keys == other.keys and self.span == other.span and self.pile is other.pile

    def hosts(self, *, logger_mode: bool = False) -> list[str]:
        """Caddy's `hostsFromKeys`: unique hosts; empty when a key matches all hosts."""
        out: list[str] = []
        for a in self.addresses:
            if a.host == "":
                if not logger_mode:
                    return []
                continue
            if (
                logger_mode
                and a.port
                and a.port
                not in (
                    str(DEFAULT_HTTP_PORT),
                    str(DEFAULT_HTTPS_PORT),
                )
            ):
                value = join_host_port(a.host, a.port)
            else:
                value = a.host
            if value not in out:
                out.append(value)
        return out

    def has_catch_all_key(self) -> bool:
        return any(a.host == "" for a in self.addresses)


@dataclass
class Pairing:
    """Listener addresses (with protocols) and the sites they serve: one server."""

    addresses: list[tuple[str, tuple[str, ...]]]
    sites: list[SiteBlock]


# ---------------------------------------------------------------- listeners


def _ports(lowering: Lowering) -> tuple[str, str]:
    http_port = lowering.options.get("http_port", DEFAULT_HTTP_PORT)
    https_port = lowering.options.get("https_port", DEFAULT_HTTPS_PORT)
    return str(http_port), str(https_port)


def network_address(host: str, port: str) -> str:
    """Caddy's `ParseNetworkAddressFromHostPort(host, port).String()`."""
    network = ""
    if "/" in host:
        network, _, rest = host.partition("/")
        if network.startswith("unix") or network in ("fd", "fdgram"):
            return host  # sockets and file descriptors have no port
        host = rest
    try:
        host = split_host_port(host)[0]  # a port in a bind address gives way to the site's
    except ValueError:
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]  # `tcp6/[::]`: the brackets come back with the port
    address = join_host_port(host, port)
    return f"{network}/{address}" if network else address


def listeners_for(site: SiteBlock, addr: Address, lowering: Lowering) -> dict[str, set[str]]:
    """Listener addresses (→ protocols) one site key needs (`listenersForServerBlockAddress`)."""
    http_port, https_port = _ports(lowering)
    port = addr.port or (http_port if addr.scheme == "http" else https_port)
    if (addr.scheme == "http" and port == https_port) or (
        addr.scheme == "https" and port == http_port
    ):
        raise ValueError(f"[{addr}] scheme and port violate convention")
    binds: list[tuple[list[str], list[str]]] = [v.value for v in site.pile.get("bind", [])]
    if not binds:
        default_bind = lowering.options.get("default_bind")
        binds = list(default_bind) if default_bind else [([""], [])]
    out: dict[str, set[str]] = {}
    for hosts, protocols in binds:
        for host in hosts:
            out.setdefault(network_address(host, port), set()).update(protocols)
    return out


def pair_sites(sites: list[SiteBlock], lowering: Lowering) -> list[Pairing]:
    """Group sites by the listener addresses they need (map, then reduce)."""
    by_addr: dict[str, dict[str, list[SiteBlock]]] = {}
    for site in sites:
        per_addr: dict[str, dict[str, list[int]]] = {}
        for i, addr in enumerate(site.addresses):
            try:
                listeners = listeners_for(site, addr, lowering)
            except ValueError as exc:
                lowering.diags.error("RPC124", str(exc), addr.span)
                continue
            for listen, protocols in listeners.items():
                prots = per_addr.setdefault(listen, {})
                for p in protocols or {""}:
                    prots.setdefault(p, []).append(i)
        for listen in sorted(per_addr):
            sites_by_prot = by_addr.setdefault(listen, {})
            for p in sorted(per_addr[listen]):
                sites_by_prot.setdefault(p, []).append(site.subset(per_addr[listen][p]))
    return _consolidate(by_addr)


def _same_sites(a: list[SiteBlock], b: list[SiteBlock]) -> bool:
    return len(a) == len(b) and all(x.same_as(y) for x, y in zip(a, b))


def _consolidate(by_addr: dict[str, dict[str, list[SiteBlock]]]) -> list[Pairing]:
    """Listeners serving identical site lists become one server (`consolidateAddrMappings`)."""
    pairings: list[Pairing] = []
    for addr in sorted(by_addr):
        for prot in sorted(by_addr[addr]):
            # A protocol an earlier round already took still makes a (siteless) pairing:
            # Caddy lists an address's protocols before consolidating, and emits it.
            sites = by_addr[addr].get(prot, [])
            listeners: dict[str, set[str]] = {}
            for other in list(by_addr):
                for other_prot in list(by_addr[other]):
                    other_sites = by_addr[other][other_prot]
                    if (other == addr and other_prot == prot) or _same_sites(sites, other_sites):
                        listeners.setdefault(other, set()).add(other_prot)
                        del by_addr[other][other_prot]
            addresses = [
                (listen, tuple(sorted(p for p in listeners[listen] if p)))
                for listen in sorted(listeners)
            ]
            pairings.append(Pairing(addresses, sites))
    return pairings


# ---------------------------------------------------------------- sites → routes


def specificity(text: str) -> int:
    """Length without `*` and `{placeholders}` (Caddy's `specificity`)."""
    n = len(text) - text.count("*")
    s = text
    while s:
        start = s.find("{")
        if start < 0:
            return n
        end = s.find("}", start) + 1
        if end <= start:
            return n
        n -= end - start
        s = s[end:]
    return n


def _sort_sites(sites: list[SiteBlock]) -> None:
    def key(site: SiteBlock) -> tuple[str, str, bool]:
        longest_host = longest_path = ""
        wildcard = False
        for a in site.addresses:
            if "*" in a.host or a.host == "":
                wildcard = True
            if specificity(a.host) > specificity(longest_host):
                longest_host = a.host
            if specificity(a.path) > specificity(longest_path):
                longest_path = a.path
        return longest_host, longest_path, wildcard

    def less(i: SiteBlock, j: SiteBlock) -> bool:
        ih, ip, iw = key(i)
        jh, jp, jw = key(j)
        if specificity(ih) == 0:
            return False
        if specificity(jh) == 0:
            return True
        if iw != jw:
            return jw
        if specificity(ih) == specificity(jh):
            return len(ip) > len(jp)
        return specificity(ih) > specificity(jh)

    slice_stable(sites, less)


def _site_matchers(site: SiteBlock) -> tuple[MatcherSet, ...]:
    """Host (and path) matchers of a site (`compileEncodedMatcherSets`)."""
    from rpc.compiler.directives.matchers import path_matcher, text

    pairs: list[tuple[list[str], list[str]]] = []  # (hosts, paths)
    catch_all = False
    for a in site.addresses:
        chosen = None
        for hosts, paths in pairs:
            if (not paths and a.path == "") or (len(paths) == 1 and paths[0] == a.path):
                chosen = (hosts, paths)
                break
        if chosen is None:
            chosen = ([], [a.path] if a.path else [])
            pairs.append(chosen)
        if a.host == "" and not catch_all:
            chosen[0].clear()
            catch_all = True
        if catch_all:
            continue
        if a.host and a.host not in chosen[0]:
            chosen[0].append(a.host)
    out = []
    for hosts, paths in pairs:
        matchers: list[MatchHost | MatchPath] = []
        if hosts:
            matchers.append(MatchHost(hosts=tuple(text(h) for h in hosts), span=site.span))
        if paths:
            matchers.append(path_matcher(paths, site.span))
        if matchers:
            out.append(MatcherSet(matchers=tuple(matchers), span=site.span))
    return tuple(out)


def _append_subroute(
    routes: list[Route], subroute: Subroute, matchers: tuple[MatcherSet, ...], alone: bool
) -> None:
    """Add a site's routes to the server (`appendSubrouteToRouteList`)."""
    if not matchers and not subroute.routes:
        return
    # A lone site without host matchers needs no wrapping, unless a route inside
    # matches on host (it would then look like a site to automatic HTTPS).
    if (
        not matchers
        and alone
        and not any(ms.get("host") is not None for r in subroute.routes for ms in r.match)
    ):
        routes.extend(subroute.routes)
        return
    handle = (subroute,) if subroute.routes else ()
    routes.append(Route(match=matchers, handle=handle, terminal=True, span=subroute.span))


# ---------------------------------------------------------------- servers


def build_servers(
    pairings: list[Pairing], lowering: Lowering, named_routes: dict[str, Route]
) -> list[Server]:
    """One server per pairing (`serversFromPairings`)."""
    out = []
    for i, p in enumerate(pairings):
        server = _build_server(i, p, lowering, named_routes)
        if server is not None:
            out.append(server)
    return out


def _add_named(
    invoke: Invoke, defined: dict[str, Route], named: list[tuple[str, Route]], diags: Diagnostics
) -> None:
    """Add the route `invoke` names and, as Caddy does, every route it invokes, transitively."""
    name = invoke.name
    if name not in defined:
        diags.error(
            "RPC305",
            f"cannot invoke named route '{name}', which was not defined",
            invoke.span,
            "define it at the top level: `&(" + name + ") { ... }`",
        )
        return
    if any(n == name for n, _ in named):
        return
    named.append((name, defined[name]))
    for node in nodes(defined[name]):
        if isinstance(node, Invoke):
            _add_named(node, defined, named, diags)


def _build_server(
    index: int, p: Pairing, lowering: Lowering, named_routes: dict[str, Route]
) -> Server | None:
    diags = lowering.diags
    options = lowering.options
    http_port, https_port = _ports(lowering)
    for j, one in enumerate(p.sites):
        for key in one.keys:
            if any(key in b.keys for k, b in enumerate(p.sites) if k != j):
                diags.error(
                    "RPC412",
                    f"ambiguous site definition: {key}",
                    one.span,
                    "two site blocks serve the same address on the same listener",
                )
                return None

    listen = tuple(addr for addr, _ in p.addresses)
    protocols = tuple(prots for _, prots in p.addresses)
    auto = AutoHTTPS()
    auto_set = False
    for val in options.get("auto_https", ()):
        auto_set = True
        if val == "off":
            auto = replace(auto, disable=True)
        elif val == "disable_redirects":
            auto = replace(auto, disable_redirects=True)
        elif val == "disable_certs":
            auto = replace(auto, disable_certificates=True)
        elif val == "ignore_loaded_certs":
            auto = replace(auto, ignore_loaded_certificates=True)
        elif val == "prefer_wildcard":
            auto = replace(auto, prefer_wildcard=True)

    # In place, as Caddy does: the TLS app and the loggers see this order too.
    _sort_sites(p.sites)
    sites = list(p.sites)

    default_sni = options.get("default_sni", "")
    fallback_sni = options.get("fallback_sni", "")
    has_catch_all_policy = False
    qualifies_for_tls = False
    auto_adds_policy = not auto.disable
    has_logs = any(s.pile.get("custom_log") for s in sites)
    logs = _LogAssoc() if has_logs else None

    named: list[tuple[str, Route]] = []
    for site in sites:
        for value in site.pile.get("named_route", []):
            _add_named(Invoke(name=value.value, span=value.span), named_routes, named, diags)

    conn_policies: list[ConnectionPolicy] = []
    unshielded: list[str] = []  # hosts of sites that add no connection policy of their own
    routes: list[Route] = []
    error_routes: list[Route] = []
    skip: list[str] = []
    for site in sites:
        matchers = _site_matchers(site)
        hosts = site.hosts()
        force_automate = "tls.force_automate" in site.pile
        before = len(conn_policies)
        for value in site.pile.get("tls.connection_policy", []):
            cp: ConnectionPolicy = value.value
            policy_hosts = list(hosts)
            for h in hosts:
                if h == default_sni:
                    policy_hosts.append("")
                    cp = replace(cp, default_sni=default_sni)
                    break
                if h == fallback_sni:
                    policy_hosts.append("")
                    cp = replace(cp, fallback_sni=fallback_sni)
                    break
            if policy_hosts:
                cp = replace(cp, match_sni=tuple(sorted(policy_hosts)))
            else:
                cp = replace(cp, default_sni=default_sni, fallback_sni=fallback_sni)
            if not _policy_settings_empty(cp) or force_automate:
                conn_policies.append(cp)
                has_catch_all_policy = not policy_hosts
        if len(conn_policies) == before:
            unshielded.extend(h for h in hosts if h not in unshielded)

        for a in site.addresses:
            other_port = any(_port_of(ln) != http_port for ln in listen)
            if other_port and a.scheme == "http" and a.host and a.host not in skip:
                skip.append(a.host)
                auto_set = True
            has_tls = bool(site.pile.get("tls.connection_policy")) or (
                a.host != "" and a.host not in skip
            )
            if a.scheme == "https" or (a.scheme != "http" and a.port != http_port and has_tls):
                qualifies_for_tls = True
            auto_adds_policy = auto_adds_policy and (
                a.port == https_port or (a.port != http_port and a.host != "")
            )

        subroute = build_subroute(site.pile.get("route", []), lowering, sort=True, span=site.span)
        _append_subroute(routes, subroute, matchers, len(sites) == 1)

        error_values = site.pile.get("error_route", [])
        if error_values:
            ordered = list(error_values)

            def catch_all_last(x: ConfigValue, y: ConfigValue) -> bool:
                xs, ys = x.value, y.value
                return (
                    not (not xs.routes[0].match and ys.routes[0].match)
                    if xs.routes and ys.routes
                    else True
                )

            slice_stable(ordered, catch_all_last)
            merged = Subroute(
                routes=tuple(r for v in ordered for r in v.value.routes), span=site.span
            )
            _append_subroute(error_routes, merged, matchers, len(sites) == 1)

        if logs is not None:
            logs.add(site, hosts)

    if logs is not None:
        logs.skip_hosts.sort()

    server_logs = logs.ir() if logs is not None else None
    auto_final = replace(auto, skip=tuple(skip)) if (auto_set or skip) else None
    if auto_final is not None and auto_final == AutoHTTPS():
        auto_final = None

    conn_policies = shield_from_wildcard_client_auth(conn_policies, unshielded)
    if (
        qualifies_for_tls
        and not has_catch_all_policy
        and (conn_policies or not auto_adds_policy or default_sni or fallback_sni)
    ):
        conn_policies.append(ConnectionPolicy(default_sni=default_sni, fallback_sni=fallback_sni))

    try:
        policies = consolidate_policies(conn_policies)
    except ValueError as exc:
        diags.error(
            "RPC311",
            f"consolidating TLS connection policies for server {index}: {exc}",
            sites[0].span if sites else None,
        )
        return None
    server = Server(
        name=f"srv{index}",
        listen=listen,
        listen_protocols=() if all(not p for p in protocols) else protocols,
        routes=tuple(_consolidate_routes(routes)),
        errors=tuple(error_routes),
        named_routes=tuple(named),
        tls_connection_policies=tuple(policies),
        automatic_https=auto_final,
        logs=server_logs,
        span=sites[0].span if sites else None,
    )
    _check_schemes(server, sites, http_port, https_port, lowering)
    return server


def _port_of(listen: str) -> str:
    return listen.rsplit(":", 1)[-1] if ":" in listen else ""


def _policy_settings_empty(cp: ConnectionPolicy) -> bool:
    return (
        replace(cp, match_sni=(), default_sni="", fallback_sni="", span=None) == ConnectionPolicy()
    )


def _consolidate_routes(routes: list[Route]) -> list[Route]:
    from rpc.compiler.directives.helper import consolidate_routes

    return consolidate_routes(routes)


def _check_schemes(
    server: Server, sites: list[SiteBlock], http_port: str, https_port: str, lowering: Lowering
) -> None:
    """A server cannot serve HTTP and HTTPS on one listener (`detectConflictingSchemes`)."""
    mode = ""
    listen = list(server.listen)
    for site in sites:
        for a in site.addresses:
            if a.scheme == "http" or a.port == http_port:
                want = "HTTP"
            elif a.scheme == "https" or a.port == https_port or server.tls_connection_policies:
                want = "HTTPS"
            elif a.host == "":
                want = "HTTP"
            else:
                continue
            if want == "HTTP" and mode == "HTTPS":
                hint = (
                    " (try specifying https:// in the address)"
                    if not a.scheme and not a.host
                    else ""
                )
                lowering.diags.error(
                    "RPC311",
                    f"server listening on {listen} is configured for HTTPS and cannot natively "
                    f"multiplex HTTP and HTTPS: {a.original}{hint}",
                    a.span,
                )
                return
            if want == "HTTP" and server.tls_connection_policies:
                lowering.diags.error(
                    "RPC311",
                    f"server listening on {listen} is HTTP, but attempts to configure TLS "
                    "connection policies",
                    a.span,
                )
                return
            if want == "HTTPS" and mode == "HTTP":
                lowering.diags.error(
                    "RPC311",
                    f"server listening on {listen} is configured for HTTP and cannot natively "
                    f"multiplex HTTP and HTTPS: {a.original}",
                    a.span,
                )
                return
            mode = want


class _LogAssoc:
    """Which access logger serves which host of a server (`srv.Logs`)."""

    def __init__(self) -> None:
        self.default_logger = ""
        self.logger_names: dict[str, list[str]] = {}
        self.skip_hosts: list[str] = []
        self.skip_unmapped = False

    def add(self, site: SiteBlock, hosts: list[str]) -> None:
        log_hosts = site.hosts(logger_mode=True)
        values = site.pile.get("custom_log", [])
        for value in values:
            ncl: SiteLog = value.value
            if ncl.no_hostname:
                continue
            if site.has_catch_all_key() and not ncl.hostnames:
                self.default_logger = ncl.name
            elif ncl.hostnames:
                for h in ncl.hostnames:
                    self.logger_names.setdefault(h, []).append(ncl.name)
            else:
                for h in log_hosts:
                    try:
                        host = split_host_port(h)[0]
                    except ValueError:
                        host = h
                    self.logger_names.setdefault(host, []).append(ncl.name)
        if not values:
            if not hosts:
                self.skip_unmapped = True
            self.skip_hosts.extend(log_hosts)

    def ir(self) -> ServerLogs:
        return ServerLogs(
            default_logger_name=self.default_logger,
            logger_names=tuple(sorted((h, tuple(n)) for h, n in self.logger_names.items())),
            skip_hosts=tuple(self.skip_hosts),
            skip_unmapped_hosts=self.skip_unmapped,
        )
