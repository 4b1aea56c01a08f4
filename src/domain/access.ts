/** Who may see and change what. Every resolver and subscription goes through these. */
import { ForbiddenError, UnauthenticatedError } from './errors.js';

/** The caller, as far as access rules care. */
export interface Principal {
  projectId: string;
  role: 'admin' | 'member' | 'reader';
}

export function requirePrincipal<P extends Principal>(p: P | null | undefined): P {
  if (!p) throw new UnauthenticatedError();
  return p;
}

export function canSee(p: Principal, projectId: string): boolean {
  return p.role === 'admin' || p.projectId === projectId;
}

export function requireWriter<P extends Principal>(p: P | null | undefined): P {
  const principal = requirePrincipal(p);
  if (principal.role === 'reader') throw ForbiddenError.readOnly();
  return principal;
}

export function requireAdmin<P extends Principal>(p: P | null | undefined, what: string): P {
  const principal = requirePrincipal(p);
  if (principal.role !== 'admin') throw ForbiddenError.adminOnly(what);
  return principal;
}

/** The project filter of a list: admins see every project. */
export function projectScope(p: Principal): string | null {
  return p.role === 'admin' ? null : p.projectId;
}
