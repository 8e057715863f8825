/**
 * The synthesized template's IAM, as AWS would evaluate it: a role's policies with the template's
 * references resolved to the resources a test made (on moto), and each request judged by
 * `@cloud-copilot/iam-simulate`, an IAM policy simulator (identity policies with resources and
 * conditions), rather than by code of ours. A development dependency only (AGPL-3.0): it never
 * ships in the functions' bundles.
 */
import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import type { IamRequest } from './aws-call-recorder.ts';

type Json = unknown;
interface Resource {
  readonly Type: string;
  readonly Properties?: Record<string, Json>;
}
export interface TemplateJson {
  readonly Resources: Record<string, Resource>;
}

/** What a logical ID stands for: its `Ref` and its `Fn::GetAtt` attributes. */
export interface Resolved {
  readonly ref: string;
  readonly attributes: Record<string, string>;
}

export interface Where {
  readonly region: string;
  readonly account: string;
}

/** Resolves `Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Select` and the pseudo parameters in `value`. */
export function resolve(value: Json, refs: ReadonlyMap<string, Resolved>, where: Where): Json {
  if (Array.isArray(value)) return value.map((item) => resolve(item, refs, where));
  if (typeof value !== 'object' || value === null) return value;
  const object = value as Record<string, Json>;
  if ('Ref' in object) {
    const name = String(object.Ref);
    const pseudo: Record<string, string> = {
      'AWS::Partition': 'aws',
      'AWS::Region': where.region,
      'AWS::AccountId': where.account,
      'AWS::URLSuffix': 'amazonaws.com',
    };
    const found = pseudo[name] ?? refs.get(name)?.ref;
    if (found === undefined) throw new Error(`the template refers to ${name}, which the test did not make`);
    return found;
  }
  if ('Fn::GetAtt' in object) {
    const [id, attribute] = object['Fn::GetAtt'] as [string, string];
    const found = refs.get(id)?.attributes[attribute];
    if (found === undefined)
      throw new Error(`the template reads ${id}.${attribute}, which the test did not make`);
    return found;
  }
  if ('Fn::Join' in object) {
    const [separator, parts] = object['Fn::Join'] as [string, Json[]];
    return (resolve(parts, refs, where) as Json[]).map(String).join(separator);
  }
  if ('Fn::Select' in object) {
    const [index, list] = object['Fn::Select'] as [number, Json];
    return (resolve(list, refs, where) as Json[])[Number(index)];
  }
  return Object.fromEntries(Object.entries(object).map(([key, inner]) => [key, resolve(inner, refs, where)]));
}

/** A named policy document, as iam-simulate takes it. */
export interface NamedPolicy {
  readonly name: string;
  readonly policy: { Version: string; Statement: Array<Record<string, Json>> };
}

/** Every policy of a role: its inline policies and the AWS::IAM::Policy resources attached to it. */
export function rolePolicies(
  template: TemplateJson,
  roleId: string,
  refs: ReadonlyMap<string, Resolved>,
  where: Where,
): NamedPolicy[] {
  const policies: NamedPolicy[] = [];
  const role = template.Resources[roleId];
  if (role?.Type !== 'AWS::IAM::Role') throw new Error(`${roleId} is not a role of the template`);
  if ((role.Properties?.ManagedPolicyArns as unknown[] | undefined)?.length) {
    throw new Error(`${roleId} has managed policies, which this judge does not read`);
  }
  for (const inline of (role.Properties?.Policies ?? []) as Array<{
    PolicyName: string;
    PolicyDocument: Json;
  }>) {
    policies.push({
      name: inline.PolicyName,
      policy: resolve(inline.PolicyDocument, refs, where) as NamedPolicy['policy'],
    });
  }
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::IAM::Policy') continue;
    const roles = (resource.Properties?.Roles ?? []) as Array<{ Ref?: string }>;
    if (!roles.some((entry) => entry.Ref === roleId)) continue;
    policies.push({
      name: id,
      policy: resolve(resource.Properties?.PolicyDocument, refs, where) as NamedPolicy['policy'],
    });
  }
  return policies;
}

/** The verdict on one request: allowed, or why not in words that name the missing grant. */
export async function judge(
  principal: string,
  request: IamRequest,
  policies: readonly NamedPolicy[],
  where: Where,
  /** The resource's own policy, where its service requires one (a KMS key's). */
  resourcePolicy?: Record<string, unknown>,
): Promise<{ allowed: true } | { allowed: false; why: string }> {
  const simulation: Simulation = {
    identityPolicies: policies.map((policy) => ({ name: policy.name, policy: policy.policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    ...(resourcePolicy === undefined ? {} : { resourcePolicy }),
    request: {
      action: request.action,
      principal,
      resource: { resource: request.resource, accountId: where.account },
      contextVariables: request.context,
    },
  } as Simulation;
  const response = await runSimulation(simulation, {});
  if (response.resultType === 'error') {
    return {
      allowed: false,
      why: `the simulator refused the request: ${JSON.stringify(response.errors).slice(0, 400)}`,
    };
  }
  if (response.overallResult === 'Allowed') return { allowed: true };
  const context = Object.keys(request.context).length === 0 ? '' : ` with ${JSON.stringify(request.context)}`;
  return {
    allowed: false,
    why: `${request.action} on ${request.resource}${context} is ${response.overallResult}: grant ${request.action} on ${request.resource} to the role`,
  };
}

/** Every action a role's policies allow (as written, wildcards included). */
export function grantedActions(policies: readonly NamedPolicy[]): string[] {
  const actions = new Set<string>();
  for (const { policy } of policies) {
    for (const statement of policy.Statement) {
      if (statement.Effect !== 'Allow') continue;
      const listed = statement.Action;
      for (const action of Array.isArray(listed) ? listed : [listed]) actions.add(String(action));
    }
  }
  return [...actions].sort();
}

/** The same policies with `action` taken out of every statement (a statement left empty goes too). */
export function without(policies: readonly NamedPolicy[], action: string): NamedPolicy[] {
  return policies.map(({ name, policy }) => ({
    name,
    policy: {
      ...policy,
      Statement: policy.Statement.flatMap((statement) => {
        const listed = Array.isArray(statement.Action) ? statement.Action : [statement.Action];
        const kept = listed.filter((item) => item !== action);
        return kept.length === 0 ? [] : [{ ...statement, Action: kept }];
      }),
    },
  }));
}
