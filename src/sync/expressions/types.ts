/** A value a source object may carry. Other values (objects) are read as their JSON text. */
export type SourceValue = string | number | boolean | null | string[] | Date;
/** One source object: attribute name -> value; a missing key is null. Names are case-sensitive. */
export type SourceObject = Record<string, unknown>;

/** One element of the `roles` array AppRoleAssignmentsComplex returns (Entra's SCIM shape). */
export interface RoleValue {
  primary: boolean;
  type: string;
  display: string;
  value: string;
}

/** One app role assignment, as a source provides it in an `appRoleAssignments` attribute. */
export interface AppRoleAssignment {
  /** The role's value (what the application sees); falls back to displayName. */
  value?: string;
  displayName?: string;
  /** Entra's appRoleId; informational. */
  id?: string;
  primary?: boolean;
}

/**
 * What evaluate returns. A Date is never returned: it is formatted as Entra does
 * ("M/d/yyyy h:mm:ss tt", UTC). IGNORE means "drop this attribute from the flow"
 * (IgnoreFlowIfNullOrEmpty).
 */
export type ExpressionResult =
  string | number | boolean | null | string[] | RoleValue[] | typeof import('./compile.js').IGNORE;

export interface EvalContext {
  /** Clock for Now(); default: the system clock. */
  now?: () => Date;
  /** Random source in [0, 1) for Guid and RandomString; default: crypto randomness. */
  random?: () => number;
  /**
   * SelectUniqueValue: true when the value already exists in the target. Without it,
   * SelectUniqueValue returns its first non-empty candidate.
   */
  existsInTarget?: (value: string) => boolean;
}

export interface AsyncEvalContext extends Omit<EvalContext, 'existsInTarget'> {
  existsInTarget?: (value: string) => boolean | Promise<boolean>;
}

export interface CompiledExpression {
  /** The text as given. */
  readonly source: string;
  /** Source attribute names referenced, in order of first use, without duplicates. */
  readonly attributes: readonly string[];
  /** Function names used (canonical spelling), without duplicates. */
  readonly functions: readonly string[];
  /** Redact(...) appears: log "[Redact]" instead of the value. */
  readonly redact: boolean;
  /** False when Now, Guid or RandomString is used: the value changes on every evaluation. */
  readonly deterministic: boolean;
  /** The top-level function is SelectUniqueValue (Entra: create-only, never a matching attribute). */
  readonly selectsUniqueValue: boolean;
  /** Evaluate against one source object. Throws ExpressionError on a runtime error (bad regex, bad date). */
  evaluate(obj: SourceObject, ctx?: EvalContext): ExpressionResult;
  /** As evaluate, but SelectUniqueValue may check the target asynchronously. */
  evaluateAsync(obj: SourceObject, ctx?: AsyncEvalContext): Promise<ExpressionResult>;
}

export interface FunctionInfo {
  name: string;
  minArgs: number;
  /** Infinity for a repeating last parameter. */
  maxArgs: number;
  signature: string;
  description: string;
  example: string;
}
