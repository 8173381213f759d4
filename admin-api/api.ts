/**
 * Route registry: each route declares its schemas, roles and handler once; the same declaration
 * mounts it on Express, validates its input and produces its part of the OpenAPI document.
 */
import express, { Request, Response } from 'express';
import { z } from 'zod';
import type { TokenClaims } from '../shared/auth/jwt';
import type { Role } from '../shared/model/users';
import { ApiError, zodToApiError } from './errors';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface Ctx<B, Q> {
  req: Request;
  res: Response;
  body: B;
  query: Q;
  params: Record<string, string>;
  /** The caller; absent only on public routes. */
  auth: TokenClaims;
}

export interface Reply {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface RouteSpec<B extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType> {
  method: Method;
  /** Express path relative to /sapi, e.g. `/users/:id`. */
  path: string;
  summary: string;
  tag: string;
  /** Roles allowed to call it; omitted = any authenticated caller (the handler applies finer rules). */
  roles?: Role[];
  /** No bearer token needed (the token endpoint). */
  public?: boolean;
  body?: B;
  query?: Q;
  /** Extra media types the body may come in (JSON is always accepted). */
  bodyTypes?: string[];
  responses: Record<number, string>;
  handler(ctx: Ctx<z.output<B>, z.output<Q>>): Promise<Reply>;
}

export class ApiRegistry {
  readonly routes: RouteSpec[] = [];

  add<B extends z.ZodType, Q extends z.ZodType>(spec: RouteSpec<B, Q>): void {
    this.routes.push(spec as unknown as RouteSpec);
  }

  /** Mounts every route; `authenticate` turns a request into claims or throws a 401 ApiError. */
  mount(router: express.Router, authenticate: (req: Request) => Promise<TokenClaims>): void {
    for (const spec of this.routes) {
      router[spec.method](spec.path, (req, res, next) => {
        const run = async () => {
          const auth = spec.public ? (undefined as unknown as TokenClaims) : await authenticate(req);
          if (spec.roles && !spec.roles.includes(auth.role)) {
            throw new ApiError(403, 'forbidden', `role ${auth.role} may not ${spec.method.toUpperCase()} ${req.baseUrl}${spec.path}`);
          }
          const body = spec.body ? parse(spec.body, req.body ?? {}, 'body') : undefined;
          const query = spec.query ? parse(spec.query, req.query, 'query') : undefined;
          const out = await spec.handler({ req, res, body, query, params: req.params as Record<string, string>, auth });
          if (out.headers) res.set(out.headers);
          if (out.body === undefined) res.status(out.status ?? 204).end();
          else res.status(out.status ?? 200).json(out.body);
        };
        run().catch(next);
      });
    }
  }

  openapi(info: { title: string; version: string }): object {
    const paths: Record<string, Record<string, unknown>> = {};
    for (const r of this.routes) {
      const path = `/sapi${r.path.replace(/:(\w+)/g, '{$1}')}`;
      const params = [...r.path.matchAll(/:(\w+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
      const query = r.query ? queryParams(r.query) : [];
      const content: Record<string, unknown> = {};
      if (r.body) {
        const schema = z.toJSONSchema(r.body, { io: 'input', unrepresentable: 'any' });
        for (const type of ['application/json', ...(r.bodyTypes ?? [])]) content[type] = { schema };
      }
      (paths[path] ??= {})[r.method] = {
        summary: r.summary,
        tags: [r.tag],
        ...(r.public ? { security: [] } : {}),
        ...(r.roles ? { 'x-roles': r.roles } : {}),
        parameters: [...params, ...query],
        ...(r.body ? { requestBody: { required: true, content } } : {}),
        responses: Object.fromEntries(Object.entries(r.responses).map(([code, description]) => [code, { description }])),
      };
    }
    return {
      openapi: '3.0.3',
      info,
      servers: [{ url: '/' }],
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      security: [{ bearerAuth: [] }],
      paths,
    };
  }
}

function parse<S extends z.ZodType>(schema: S, value: unknown, where: 'body' | 'query'): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw zodToApiError(r.error, where);
  return r.data;
}

function queryParams(schema: z.ZodType): object[] {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, object>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, s]) => ({ name, in: 'query', required: json.required?.includes(name) ?? false, schema: s }));
}
