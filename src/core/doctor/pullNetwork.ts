/**
 * The network half of `doctor pull`: whether a workload reaches a private registry. A private endpoint (group
 * `registry`, approved, provisioned) in a network the workload's reaches (same or peered); the
 * privatelink.azurecr.io zone linked to the network that resolves the workload's names (Azure DNS, or custom DNS
 * servers that are DNS private resolver inbound endpoints); both A records equal to the endpoint's addresses.
 * Pure, over the snapshot.
 */
import { acrHostName, isAcrHost } from '../acrHost';
import { fail, pass, sh, unknown, type DoctorCheck } from './check';
import {
  arr,
  byId,
  idKey,
  ofType,
  parseArmId,
  str,
  Types,
  vnetOfSubnet,
  type ArmResource,
  type Snapshot,
} from './snapshot';
import { workloadVnet, type Workload } from './workloads';

/** The private DNS zone of registry endpoints. */
export const ACR_ZONE = 'privatelink.azurecr.io';

const shortName = (id: string) => parseArmId(id).name;

/** Private endpoints of a registry (group `registry`) whose connection is recorded as approved. */
function registryEndpoints(s: Snapshot, registry: ArmResource): ArmResource[] {
  return endpointsOf(s, registry, (state) => state !== undefined && /^approved$/i.test(state));
}

/** Private endpoints of a registry (group `registry`) whose connection state the snapshot does not hold. */
function endpointsWithoutState(s: Snapshot, registry: ArmResource): ArmResource[] {
  return endpointsOf(s, registry, (state) => state === undefined);
}

function endpointsOf(
  s: Snapshot,
  registry: ArmResource,
  stateMatches: (state: string | undefined) => boolean,
): ArmResource[] {
  return ofType(s, Types.privateEndpoint).filter((pe) =>
    [
      ...arr(pe.properties, 'privateLinkServiceConnections'),
      ...arr(pe.properties, 'manualPrivateLinkServiceConnections'),
    ].some((c) => {
      const target = str(c, 'properties.privateLinkServiceId');
      const groups = arr(c, 'properties.groupIds').map((g) => String(g).toLowerCase());
      const state = str(c, 'properties.privateLinkServiceConnectionState.status');
      return (
        target !== undefined &&
        idKey(target) === idKey(registry.id) &&
        groups.includes('registry') &&
        stateMatches(state)
      );
    }),
  );
}

/** Case-insensitive comparison of an ARM state string with its final-good value. */
function isState(value: string | undefined, want: string): boolean {
  return value !== undefined && value.toLowerCase() === want.toLowerCase();
}

/** The connection states of an endpoint's connections to the registry (as recorded). */
function connectionStates(pe: ArmResource, registry: ArmResource): string[] {
  return [
    ...arr(pe.properties, 'privateLinkServiceConnections'),
    ...arr(pe.properties, 'manualPrivateLinkServiceConnections'),
  ]
    .filter((c) => idKey(str(c, 'properties.privateLinkServiceId') ?? '') === idKey(registry.id))
    .map((c) => str(c, 'properties.privateLinkServiceConnectionState.status') ?? 'state not recorded');
}

/** How the workload's network resolves names (see {@link dnsOf}). */
type DnsPath =
  | { kind: 'azure' }
  | { kind: 'followed'; vnetId: string; how: string }
  | { kind: 'custom'; servers: string[]; why?: string }
  | { kind: 'unknown' };

/**
 * A forwarding rule's domain covers the registry's names: a parent of `<registry>.azurecr.io` or of
 * `<registry>.privatelink.azurecr.io` (the root `.`, `io.`, `azurecr.io.`, the zone), or a registry host itself.
 */
function coversAcr(domain: string): boolean {
  const d = domain.toLowerCase().replace(/\.+$/, '');
  const under = (name: string) => d === '' || name === d || name.endsWith(`.${d}`);
  return under(`registry.${ACR_ZONE}`) || under(`registry.${ACR_ZONE.replace(/^privatelink\./, '')}`) || isAcrHost(d);
}

/**
 * How the workload's network resolves names: Azure-provided DNS (the zone links decide); custom DNS servers
 * (`dhcpOptions.dnsServers`) that are all inbound endpoints (Succeeded) of DNS private resolvers in one network,
 * with no enabled forwarding rule for azurecr.io in a ruleset linked to that network: "followed", the zone links of
 * the resolver's network decide; any other custom servers: what they do is not in the snapshot; or not known (the
 * virtual network is not in the snapshot).
 */
function dnsOf(s: Snapshot, vnetId: string): DnsPath {
  const vnet = byId(s, vnetId);
  if (!vnet) return { kind: 'unknown' };
  const servers = arr(vnet.properties, 'dhcpOptions.dnsServers').map(String);
  if (servers.length === 0) return { kind: 'azure' };
  const inbound = ofType(s, Types.dnsInboundEndpoint).filter((e) =>
    isState(str(e.properties, 'provisioningState'), 'Succeeded'),
  );
  const resolverVnets = servers.map((ip) => {
    const endpoint = inbound.find((e) =>
      arr(e.properties, 'ipConfigurations').some((c) => str(c, 'privateIpAddress') === ip),
    );
    const resolverId = endpoint ? endpoint.id.replace(/\/inboundEndpoints\/[^/]+$/i, '') : undefined;
    const resolver = byId(s, resolverId);
    return resolver && isState(str(resolver.properties, 'provisioningState'), 'Succeeded')
      ? { resolver, vnet: str(resolver.properties, 'virtualNetwork.id') }
      : undefined;
  });
  const first = resolverVnets[0];
  if (!first?.vnet || resolverVnets.some((r) => !r?.vnet || idKey(r.vnet) !== idKey(first.vnet as string)))
    return { kind: 'custom', servers };
  const target = first.vnet;
  // Rulesets linked to the resolver's network forward matching names elsewhere: then the zone does not decide.
  const linked = ofType(s, Types.dnsRulesetLink)
    .filter((l) => idKey(str(l.properties, 'virtualNetwork.id') ?? '') === idKey(target))
    .map((l) => idKey(l.id).replace(/\/virtualnetworklinks\/[^/]+$/, ''));
  const rule = ofType(s, Types.dnsForwardingRule).find(
    (r) =>
      linked.some((ruleset) => idKey(r.id).startsWith(`${ruleset}/forwardingrules/`)) &&
      !isState(str(r.properties, 'forwardingRuleState'), 'Disabled') &&
      coversAcr(str(r.properties, 'domainName') ?? ''),
  );
  if (rule)
    return {
      kind: 'custom',
      servers,
      why: `forwarding rule ${rule.id} (domain ${str(rule.properties, 'domainName')}) sends those names to ${arr(
        rule.properties,
        'targetDnsServers',
      )
        .map((t) => str(t, 'ipAddress'))
        .join(', ')}`,
    };
  return {
    kind: 'followed',
    vnetId: target,
    how: `${shortName(vnetId)} uses custom DNS servers ${servers.join(', ')}, the inbound endpoint of DNS private resolver ${first.resolver.name} in ${shortName(target)}, with no forwarding rule for azurecr.io linked there: names resolve through ${shortName(target)}'s zone links`,
  };
}

/** Whether vnet `a` reaches vnet `b`: same, or peered (Connected) as seen from either side; undefined when unknowable. */
function reaches(s: Snapshot, a: string, b: string): boolean | undefined {
  if (idKey(a) === idKey(b)) return true;
  const peered = (from: string, to: string): boolean | undefined => {
    const vnet = byId(s, from);
    if (!vnet) return undefined;
    const toward = arr(vnet.properties, 'virtualNetworkPeerings').filter(
      (p) => idKey(str(p, 'properties.remoteVirtualNetwork.id') ?? '') === idKey(to),
    );
    const states = toward.map((p) => str(p, 'properties.peeringState'));
    if (states.some((st) => st !== undefined && /^connected$/i.test(st))) return true;
    // A peering whose state the snapshot does not hold is not known to be connected: unknown, never a pass.
    return states.some((st) => st === undefined) ? undefined : false;
  };
  const ab = peered(a, b);
  const ba = peered(b, a);
  if (ab === true || ba === true) return true;
  if (ab === undefined && ba === undefined) return undefined;
  return false;
}

/** Network checks of one private registry from the workload's virtual network. */
export function networkChecks(s: Snapshot, w: Workload, registry: ArmResource): DoctorCheck[] {
  const checks: DoctorCheck[] = [];
  const reg = registry.id;
  const net = workloadVnet(s, w);
  const endpoints = registryEndpoints(s, registry);
  if (net.missing || !net.vnetId) {
    const why =
      net.missing ??
      `${w.resource.name} runs in no virtual network, so it cannot reach a registry whose public network access is disabled`;
    const fixNet =
      w.kind === 'containerApp'
        ? `az containerapp env create -n <environment> -g ${parseArmId(w.resource.id).resourceGroup} --infrastructure-subnet-resource-id <subnet-id> --internal-only true  # an environment's network cannot change: move the app to it`
        : `az container create -g ${parseArmId(w.resource.id).resourceGroup} -n ${w.resource.name} --subnet <subnet-id> …  # recreate the group in a subnet`;
    checks.push(
      net.missing
        ? unknown('pull.private-endpoint', reg, `the workload's network is not known: ${why}`)
        : fail('pull.private-endpoint', reg, why, fixNet),
    );
    return checks;
  }
  const vnetId = net.vnetId;
  const vnetRg = parseArmId(vnetId).resourceGroup ?? '<resource-group>';
  // 1. An endpoint the workload's network reaches.
  const reachable = endpoints.filter((pe) => {
    const peVnet = vnetOfSubnet(str(pe.properties, 'subnet.id'));
    return peVnet !== undefined && reaches(s, vnetId, peVnet) === true;
  });
  const undecided = endpoints.filter((pe) => {
    const peVnet = vnetOfSubnet(str(pe.properties, 'subnet.id'));
    return peVnet === undefined || reaches(s, vnetId, peVnet) === undefined;
  });
  // An approved endpoint whose own provisioning did not succeed (Failed, Updating, Deleting) carries no traffic.
  const endpoint = reachable.find((pe) => isState(str(pe.properties, 'provisioningState'), 'Succeeded'));
  const notReady = reachable.filter((pe) => !isState(str(pe.properties, 'provisioningState'), 'Succeeded'));
  if (!endpoint && notReady.length > 0) {
    const pe = notReady[0];
    const state = str(pe.properties, 'provisioningState');
    checks.push(
      state === undefined
        ? unknown(
            'pull.private-endpoint',
            reg,
            `private endpoint ${pe.id} is approved, but its provisioningState is not in the snapshot`,
          )
        : fail(
            'pull.private-endpoint',
            reg,
            `private endpoint ${pe.id} is approved, but its provisioningState is ${state}, not Succeeded: it carries no traffic`,
            `az network private-endpoint delete --ids ${pe.id} && az network private-endpoint create -g ${parseArmId(pe.id).resourceGroup} -n ${pe.name} --subnet ${str(pe.properties, 'subnet.id') ?? '<private-endpoint-subnet-id>'} --private-connection-resource-id ${reg} --group-id registry --connection-name ${pe.name}`,
          ),
    );
    return checks;
  }
  if (endpoint)
    checks.push(
      pass(
        'pull.private-endpoint',
        reg,
        `private endpoint ${endpoint.id} (group registry) is in ${idKey(vnetOfSubnet(str(endpoint.properties, 'subnet.id')) ?? '') === idKey(vnetId) ? "the workload's virtual network" : "a virtual network peered with the workload's"} ${shortName(vnetId)}`,
      ),
    );
  else if (undecided.length > 0)
    checks.push(
      unknown(
        'pull.private-endpoint',
        reg,
        `private endpoint(s) ${undecided.map((e) => e.id).join(', ')} exist, but whether ${shortName(vnetId)} reaches their network is not in the snapshot (virtual network or subnet missing)`,
      ),
    );
  else if (endpoints.length > 0) {
    const other = vnetOfSubnet(str(endpoints[0].properties, 'subnet.id')) ?? '<endpoint-vnet-id>';
    checks.push(
      fail(
        'pull.private-endpoint',
        reg,
        `the registry's private endpoint(s) ${endpoints.map((e) => e.id).join(', ')} are in ${shortName(other)}, which is neither ${shortName(vnetId)} nor peered with it`,
        `az network vnet peering create -g ${vnetRg} -n to-${shortName(other)} --vnet-name ${shortName(vnetId)} --remote-vnet ${other} --allow-vnet-access && ` +
          `az network vnet peering create -g ${parseArmId(other).resourceGroup} -n to-${shortName(vnetId)} --vnet-name ${shortName(other)} --remote-vnet ${vnetId} --allow-vnet-access`,
      ),
    );
  } else if (endpointsOf(s, registry, (st) => st !== undefined && !isState(st, 'Approved')).length > 0) {
    // Pending, Rejected or Disconnected: the endpoint exists but the registry does not accept its traffic.
    const pending = endpointsOf(s, registry, (st) => st !== undefined && !isState(st, 'Approved'));
    const states = pending.map((pe) => `${pe.id} (${connectionStates(pe, registry).join(', ')})`);
    checks.push(
      fail(
        'pull.private-endpoint',
        reg,
        `the registry's private endpoint connection(s) ${states.join('; ')} are not Approved: the registry refuses their traffic`,
        pending
          .map(
            (pe) =>
              `az network private-endpoint-connection approve --id "$(az network private-endpoint-connection list --id ${reg} --query ${sh(`[?properties.privateEndpoint.id=='${pe.id}'].id | [0]`)} -o tsv)"`,
          )
          .join(' && '),
      ),
    );
  } else if (endpointsWithoutState(s, registry).length > 0) {
    checks.push(
      unknown(
        'pull.private-endpoint',
        reg,
        `private endpoint(s) ${endpointsWithoutState(s, registry)
          .map((e) => e.id)
          .join(', ')} exist, but whether their connection is approved is not in the snapshot`,
      ),
    );
  } else {
    checks.push(
      fail(
        'pull.private-endpoint',
        reg,
        `public network access is disabled and the registry has no approved private endpoint (group registry)`,
        `az network private-endpoint create -g ${vnetRg} -n pe-${registry.name} --vnet-name ${shortName(vnetId)} --subnet <private-endpoint-subnet> --private-connection-resource-id ${reg} --group-id registry --connection-name pe-${registry.name}`,
      ),
    );
  }

  // 2. The zone linked to the network that resolves the workload's names (its own, or, behind custom DNS servers
  // that are a DNS private resolver's inbound endpoint, the resolver's), the link in its final-good state.
  const dns = dnsOf(s, vnetId);
  const resolving = dns.kind === 'followed' ? dns.vnetId : vnetId;
  const zones = ofType(s, Types.dnsZone).filter((z) => z.name.toLowerCase() === ACR_ZONE);
  const links = ofType(s, Types.dnsLink);
  const linkOf = (z: ArmResource) =>
    links.filter(
      (l) =>
        idKey(l.id).startsWith(`${idKey(z.id)}/virtualnetworklinks/`) &&
        idKey(str(l.properties, 'virtualNetwork.id') ?? '') === idKey(resolving),
    );
  const linkReady = (l: ArmResource) =>
    isState(str(l.properties, 'provisioningState'), 'Succeeded') &&
    isState(str(l.properties, 'virtualNetworkLinkState'), 'Completed');
  const linkedZone = zones.find((z) => linkOf(z).some(linkReady));
  const pendingLink = linkedZone ? undefined : zones.flatMap(linkOf)[0];
  const dnsChecks: DoctorCheck[] = [];
  if (linkedZone)
    dnsChecks.push(
      pass(
        'pull.dns-zone-link',
        ACR_ZONE,
        `zone ${linkedZone.id} is linked to ${shortName(resolving)} (provisioningState Succeeded, virtualNetworkLinkState Completed)`,
      ),
    );
  else if (pendingLink) {
    const ps = str(pendingLink.properties, 'provisioningState');
    const ls = str(pendingLink.properties, 'virtualNetworkLinkState');
    const zoneRg = parseArmId(pendingLink.id).resourceGroup;
    dnsChecks.push(
      ps === undefined || ls === undefined
        ? unknown(
            'pull.dns-zone-link',
            ACR_ZONE,
            `link ${pendingLink.id} to ${shortName(resolving)} exists, but its ${ps === undefined ? 'provisioningState' : 'virtualNetworkLinkState'} is not in the snapshot`,
          )
        : fail(
            'pull.dns-zone-link',
            ACR_ZONE,
            `link ${pendingLink.id} to ${shortName(resolving)} is provisioningState ${ps}, virtualNetworkLinkState ${ls} (final-good is Succeeded and Completed): the zone does not answer for ${shortName(resolving)} yet`,
            `az network private-dns link vnet delete -g ${zoneRg} -z ${ACR_ZONE} -n ${pendingLink.name} --yes && az network private-dns link vnet create -g ${zoneRg} -z ${ACR_ZONE} -n ${pendingLink.name} -v ${resolving} -e false`,
          ),
    );
  } else if (zones.length > 0) {
    const z = zones[0];
    const linked = links
      .filter((l) => idKey(l.id).startsWith(`${idKey(z.id)}/virtualnetworklinks/`))
      .map((l) => shortName(str(l.properties, 'virtualNetwork.id') ?? '?'));
    dnsChecks.push(
      fail(
        'pull.dns-zone-link',
        ACR_ZONE,
        `zone ${z.id} is not linked to ${resolving === vnetId ? "the workload's virtual network" : 'the resolving virtual network'} ${shortName(resolving)} (linked to: ${linked.join(', ') || 'none'}), so ${w.resource.name} resolves the registry to its public address`,
        `az network private-dns link vnet create -g ${parseArmId(z.id).resourceGroup} -z ${ACR_ZONE} -n link-${shortName(resolving)} -v ${resolving} -e false`,
      ),
    );
  } else {
    dnsChecks.push(
      fail(
        'pull.dns-zone-link',
        ACR_ZONE,
        `no ${ACR_ZONE} zone is in the snapshot, so the registry resolves to its public address`,
        `az network private-dns zone create -g ${vnetRg} -n ${ACR_ZONE} && az network private-dns link vnet create -g ${vnetRg} -z ${ACR_ZONE} -n link-${shortName(resolving)} -v ${resolving} -e false`,
      ),
    );
  }

  // 3. Both A records equal to the endpoint's addresses.
  const zone = linkedZone ?? (zones.length === 1 ? zones[0] : undefined);
  if (endpoint) dnsChecks.push(...aRecordChecks(s, reg, endpoint, zone));
  checks.push(...dnsChecks.map((c) => underDns(c, dns, vnetId)));
  return checks;
}

/**
 * With custom DNS servers on the workload's network (or its network not in the snapshot), the zone link and the
 * A records decide nothing on their own: whether the servers forward privatelink.azurecr.io to Azure DNS from a
 * linked network is not in the snapshot. A pass becomes unknown; a zone-link fail too (the link the servers use
 * is another network's); an A record that is wrong stays a fail (it is wrong for whoever reads the zone).
 */
function underDns(c: DoctorCheck, dns: ReturnType<typeof dnsOf>, vnetId: string): DoctorCheck {
  if (dns.kind === 'azure') return c;
  if (dns.kind === 'followed') return { ...c, evidence: `${dns.how}; ${c.evidence}` };
  if (c.status === 'unknown') return c;
  if (c.status === 'fail' && c.id !== 'pull.dns-zone-link') return c;
  const why =
    dns.kind === 'custom'
      ? `${shortName(vnetId)} uses custom DNS servers ${dns.servers.join(', ')} (dhcpOptions.dnsServers), so names resolve there, not through the zone links; ${dns.why ? `${dns.why}, so` : ''} whether they reach Azure DNS (168.63.129.16) from a network linked to ${ACR_ZONE} is not in the snapshot`
      : `the virtual network ${shortName(vnetId)} is not in the snapshot, so whether it uses custom DNS servers is not known`;
  return unknown(
    c.id,
    c.target,
    `${why} [${c.status} on the zone alone: ${c.evidence}]`,
    c.fix ||
      (dns.kind === 'custom'
        ? `az network vnet show --ids ${vnetId} --query dhcpOptions.dnsServers  # then check, on those servers, a conditional forwarder for azurecr.io to 168.63.129.16 from a network linked to ${ACR_ZONE}`
        : ''),
  );
}

/** The A records of the endpoint's fqdns in the zone, equal to the endpoint's addresses. */
function aRecordChecks(s: Snapshot, reg: string, endpoint: ArmResource, zone: ArmResource | undefined): DoctorCheck[] {
  const checks: DoctorCheck[] = [];
  const configs = arr(endpoint.properties, 'customDnsConfigs')
    .map((c) => ({ fqdn: (str(c, 'fqdn') ?? '').toLowerCase(), ips: arr(c, 'ipAddresses').map(String) }))
    .filter((c) => isAcrHost(c.fqdn) && c.ips.length > 0);
  if (configs.length === 0) {
    checks.push(
      unknown(
        'pull.dns-a-record',
        reg,
        `private endpoint ${endpoint.id} carries no customDnsConfigs, so the addresses the records must hold are not known`,
      ),
    );
    return checks;
  }
  if (!zone) {
    checks.push(unknown('pull.dns-a-record', reg, `no single ${ACR_ZONE} zone to read the A records from`));
    return checks;
  }
  const zoneRg = parseArmId(zone.id).resourceGroup;
  for (const { fqdn, ips } of configs) {
    const name = acrHostName(fqdn) as string;
    const record = ofType(s, Types.dnsA).find((a) => idKey(a.id) === idKey(`${zone.id}/A/${name}`));
    const want = [...new Set(ips)].sort();
    const add = (list: string[]) =>
      list.map(
        (ip) => `az network private-dns record-set a add-record -g ${zoneRg} -z ${ACR_ZONE} -n ${name} -a ${ip}`,
      );
    if (!record) {
      checks.push(
        fail(
          'pull.dns-a-record',
          fqdn,
          `A record ${name} is missing from ${ACR_ZONE}; the endpoint's address for ${fqdn} is ${want.join(', ')}`,
          add(want).join(' && '),
        ),
      );
      continue;
    }
    const have = [
      ...new Set(
        arr(record.properties, 'aRecords')
          .map((r) => str(r, 'ipv4Address'))
          .filter((x): x is string => !!x),
      ),
    ].sort();
    if (have.join(',') === want.join(','))
      checks.push(pass('pull.dns-a-record', fqdn, `A record ${name} → ${have.join(', ')}, the endpoint's address`));
    else {
      const remove = have
        .filter((ip) => !want.includes(ip))
        .map(
          (ip) => `az network private-dns record-set a remove-record -g ${zoneRg} -z ${ACR_ZONE} -n ${name} -a ${ip}`,
        );
      checks.push(
        fail(
          'pull.dns-a-record',
          fqdn,
          `A record ${name} → ${have.join(', ') || '(no address)'}, but the endpoint's address for ${fqdn} is ${want.join(', ')}`,
          [...remove, ...add(want.filter((ip) => !have.includes(ip)))].join(' && '),
        ),
      );
    }
  }
  return checks;
}
