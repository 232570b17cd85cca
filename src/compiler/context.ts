/**
 * What every pass shares: the document's symbol tables (first declaration of
 * a name wins; duplicates are the duplicate-* checks' business) and memoised
 * resolution of defines, sets and address literals. Resolution never fails:
 * it skips what it cannot resolve (unknown names, cycles, invalid literals,
 * values of the wrong kind), because each of those has its own check, and a
 * pass must not report another pass's error a second time.
 */
import type {
  AddressElement,
  AddressLiteral,
  AddressValue,
  Define,
  DefineValue,
  InterfaceBlock,
  PolicyDocument,
  PortLiteral,
  PortRange,
  PortValue,
  Rule,
  SetDeclaration,
  SetFileEntries,
  SetReference,
} from '../policy/ast.js';
import type { Diagnostic } from '../policy/diagnostic.js';
import { setEntryCount, setEntryLiteral } from '../policy/set-file.js';
import { addAddress, isAddressError, parseAddress, type AddressError, type AddressParse } from './structures/address.js';
import { collectReferences, documentRules, type ReferenceSite } from './syntax/walks.js';
import type { IrPolicy } from './ir.js';
import { MAX_EXPANDED_ELEMENTS } from './limits.js';
import { PrefixBuilder, PrefixList } from './structures/prefix-list.js';

/** What a define stands for once every `$name` inside it is replaced. */
export type DefineLeaf = AddressLiteral | PortLiteral | PortRange | SetReference;

export interface ResolvedAddresses {
  prefixes: PrefixList;
  /** Names of the sets the value refers to, directly or through defines, in order of appearance. */
  sets: string[];
}

/** The address literals of one element list or set file, parsed in one pass. */
export interface ParsedLiterals {
  /** The valid ones. */
  prefixes: PrefixList;
  errors: { literal: AddressLiteral; error: AddressError }[];
}

export class CheckContext {
  readonly sets = new Map<string, SetDeclaration>();
  readonly defines = new Map<string, Define>();
  readonly interfaces: InterfaceBlock[] = [];
  private readonly parsed = new WeakMap<AddressLiteral, AddressParse>();
  private readonly listMemo = new WeakMap<readonly AddressElement[] | SetFileEntries, ParsedLiterals>();
  private readonly defineMemo = new Map<string, DefineLeaf[]>();
  private readonly setPrefixMemo = new Map<string, PrefixList>();
  private readonly addressMemo = new WeakMap<AddressValue, ResolvedAddresses>();
  private readonly resolving = new Set<string>();
  private readonly sizeMemo = new Map<string, number>();
  private readonly sizing = new Set<string>();
  private readonly definePrefixMemo = new Map<string, PrefixList>();
  private referenceSites?: ReferenceSite[];
  private ruleList?: { block: InterfaceBlock | null; rule: Rule }[];

  constructor(readonly document: PolicyDocument) {
    for (const item of document.items) {
      if (item.kind === 'set' && !this.sets.has(item.name.name)) this.sets.set(item.name.name, item);
      if (item.kind === 'define' && !this.defines.has(item.name.name)) this.defines.set(item.name.name, item);
      if (item.kind === 'interface') this.interfaces.push(item);
    }
  }

  /** One literal parsed and validated (memoised). */
  address(literal: AddressLiteral): AddressParse {
    let result = this.parsed.get(literal);
    if (!result) {
      result = parseAddress(literal.text);
      this.parsed.set(literal, result);
    }
    return result;
  }

  /** The address literals of a set parsed, once (a set file's million entries: straight into columns). */
  parsedLiterals(source: SetDeclaration['source']): ParsedLiterals {
    // A dynamic set has no entries in the file (dynamic-set-entries reports any written).
    const key = source.kind === 'file' ? source.entries : source.kind === 'inline' ? source.elements : null;
    if (!key) return { prefixes: PrefixList.EMPTY, errors: [] };
    let result = this.listMemo.get(key);
    if (!result) {
      const builder = new PrefixBuilder();
      const errors: ParsedLiterals['errors'] = [];
      if (source.kind === 'file' && source.entries) {
        const entries = source.entries;
        builder.reserve(setEntryCount(entries));
        for (let i = 0; i < setEntryCount(entries); i++) {
          const error = addAddress(builder, entries.text, entries.start[i], entries.end[i]);
          if (error) errors.push({ literal: setEntryLiteral(entries, i), error });
        }
      } else if (source.kind === 'inline') {
        for (const element of source.elements) {
          if (element.kind !== 'address') continue;
          const error = addAddress(builder, element.text);
          if (error) errors.push({ literal: element, error });
        }
      }
      result = { prefixes: builder.build(), errors };
      this.listMemo.set(key, result);
    }
    return result;
  }

  /** Every `@set` / `$define` reference with where it is used (computed once). */
  references(): readonly ReferenceSite[] {
    return (this.referenceSites ??= collectReferences(this.document));
  }

  /**
   * How many elements `$name` or `@name` (a key) stands for once expanded,
   * duplicates counted: a value, address or set-file entry is one, a set
   * named in it at least one. Counted without expanding anything; a
   * reference that closes a cycle counts nothing (define-cycle reports it).
   */
  expansionSize(key: string): number {
    if (!this.sizeMemo.has(key) && !this.sizing.has(key)) {
      this.postOrder(
        key,
        this.sizing,
        (k) => this.sizeMemo.has(k),
        (k) => this.sizeMemo.set(k, this.ownSize(k)),
      );
    }
    return this.sizeMemo.get(key) ?? 0;
  }

  /** The expanded size of a define's value, a set's or a match's value (see expansionSize). */
  valueSize(value: DefineValue | AddressValue | PortValue): number {
    return value.kind === 'list' ? value.elements.reduce((sum, e) => sum + this.elementSize(e), 0) : this.elementSize(value);
  }

  /** Whether a define or set expands to more than the compiler expands (the expansion-limit check reports it). */
  tooLarge(key: string): boolean {
    return this.expansionSize(key) > MAX_EXPANDED_ELEMENTS;
  }

  private ownSize(key: string): number {
    const name = key.slice(1);
    if (key.startsWith('$')) return this.valueSize(this.defines.get(name)!.value);
    const source = this.sets.get(name)!.source;
    if (source.kind === 'file') return source.entries ? setEntryCount(source.entries) : 0;
    if (source.kind === 'dynamic') return 0;
    return source.elements.reduce((sum, e) => sum + this.elementSize(e), 0);
  }

  private elementSize(element: DefineValue | AddressElement): number {
    switch (element.kind) {
      case 'set-ref':
        return this.sets.has(element.name)
          ? Math.max(1, this.sizeMemo.get(`@${element.name}`) ?? this.expansionSize(`@${element.name}`))
          : 1;
      case 'define-ref':
        return this.defines.has(element.name) ? (this.sizeMemo.get(`$${element.name}`) ?? this.expansionSize(`$${element.name}`)) : 0;
      case 'list':
        return this.valueSize(element);
      default:
        return 1;
    }
  }

  /** Whether `@name` is declared `dynamic` (filled at run time; it stands for no prefix here). */
  isDynamicSet(name: string): boolean {
    return this.sets.get(name)?.source.kind === 'dynamic';
  }

  /**
   * The dynamic set a `src`/`dst` value names on its own (`src @banned`), or
   * undefined: such a match is a rule's tail, not an address constraint.
   */
  dynamicSetOf(value: AddressValue): string | undefined {
    return value.kind === 'set-ref' && this.isDynamicSet(value.name) ? value.name : undefined;
  }

  /** The leaves of `$name`, through nested defines; undefined when no such define exists. */
  defineLeaves(name: string): DefineLeaf[] | undefined {
    if (!this.defines.has(name)) return undefined;
    const key = `$${name}`;
    if (!this.defineMemo.has(name) && !this.resolving.has(key)) this.resolveDepthFirst(key);
    return this.defineMemo.get(name) ?? []; // none while resolving: a cycle, which define-cycle reports
  }

  /**
   * Each leaf once, though named many times: `define d1 = { $d0, $d0 }` has
   * d0's leaves, not two copies (what the value means is the same, and a
   * chain of such defines would double at every line).
   */
  private valueLeaves(value: DefineValue): DefineLeaf[] {
    const leaves = new Set<DefineLeaf>();
    const add = (element: DefineValue): void => {
      if (element.kind === 'list') element.elements.forEach(add);
      else if (element.kind === 'define-ref') for (const leaf of this.defineLeaves(element.name) ?? []) leaves.add(leaf);
      else leaves.add(element);
    };
    add(value);
    return [...leaves];
  }

  /** The valid prefixes of `@name` (through nested sets and defines), sorted and deduplicated. */
  setPrefixes(name: string): PrefixList {
    if (!this.sets.has(name)) return PrefixList.EMPTY;
    const key = `@${name}`;
    if (!this.setPrefixMemo.has(name) && !this.resolving.has(key)) this.resolveDepthFirst(key);
    return this.setPrefixMemo.get(name) ?? PrefixList.EMPTY; // none while resolving: a cycle, which define-cycle reports
  }

  private computeSetPrefixes(set: SetDeclaration): PrefixList {
    const parts = [this.parsedLiterals(set.source).prefixes];
    if (set.source.kind === 'inline') {
      for (const element of set.source.elements) if (element.kind !== 'address') parts.push(this.elementPrefixes(element));
    }
    return PrefixList.union(parts);
  }

  /**
   * Resolves a define (`$name`) or set (`@name`) after everything it refers
   * to, depth first with a stack of its own: a chain of thousands of defines
   * would overflow the call stack. When a node is computed, each of its
   * references is either resolved (a memo hit) or still on the stack, in
   * `resolving` (a cycle: it counts as empty) — what a recursive resolution
   * gives, one level deep.
   */
  private resolveDepthFirst(root: string): void {
    const resolved = (key: string) => (key.startsWith('$') ? this.defineMemo.has(key.slice(1)) : this.setPrefixMemo.has(key.slice(1)));
    this.postOrder(root, this.resolving, resolved, (key) => {
      const name = key.slice(1);
      // Too large to expand: it counts as empty, and expansion-limit reports it.
      const skip = this.tooLarge(key);
      if (key.startsWith('$')) this.defineMemo.set(name, skip ? [] : this.valueLeaves(this.defines.get(name)!.value));
      else this.setPrefixMemo.set(name, skip ? PrefixList.EMPTY : this.computeSetPrefixes(this.sets.get(name)!));
    });
  }

  /** Calls `finish` on `root` and on every key it refers to that is not `done`, referred keys first; `open` holds the keys on the stack. */
  private postOrder(root: string, open: Set<string>, done: (key: string) => boolean, finish: (key: string) => void): void {
    const stack = [{ key: root, references: this.referencedKeys(root), next: 0 }];
    open.add(root);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.next < top.references.length) {
        const key = top.references[top.next++]!;
        if (!done(key) && !open.has(key)) {
          open.add(key);
          stack.push({ key, references: this.referencedKeys(key), next: 0 });
        }
        continue;
      }
      stack.pop();
      finish(top.key);
      open.delete(top.key);
    }
  }

  /**
   * The declared defines and sets a define's value or an inline set names.
   * A define's sets too: resolving a set through the define needs them.
   */
  private referencedKeys(key: string): string[] {
    const name = key.slice(1);
    let elements: readonly (DefineValue | AddressElement)[];
    if (key.startsWith('$')) {
      const value = this.defines.get(name)!.value;
      elements = value.kind === 'list' ? value.elements : [value];
    } else {
      const source = this.sets.get(name)!.source;
      elements = source.kind === 'inline' ? source.elements : [];
    }
    const keys: string[] = [];
    for (const element of elements) {
      if (element.kind === 'define-ref' && this.defines.has(element.name)) keys.push(`$${element.name}`);
      if (element.kind === 'set-ref' && this.sets.has(element.name)) keys.push(`@${element.name}`);
    }
    return keys;
  }

  /** Prefixes of one element; ports where addresses belong are skipped (define-type reports them). */
  private elementPrefixes(element: AddressElement | DefineLeaf): PrefixList {
    switch (element.kind) {
      case 'address': {
        const parsed = this.address(element);
        return isAddressError(parsed) ? PrefixList.EMPTY : PrefixList.single(parsed);
      }
      case 'set-ref':
        return this.setPrefixes(element.name);
      case 'define-ref': {
        let prefixes = this.definePrefixMemo.get(element.name);
        if (!prefixes) {
          prefixes = PrefixList.union((this.defineLeaves(element.name) ?? []).map((leaf) => this.elementPrefixes(leaf)));
          this.definePrefixMemo.set(element.name, prefixes);
        }
        return prefixes;
      }
      default:
        return PrefixList.EMPTY;
    }
  }

  /** The prefixes a `src`/`dst` value stands for (memoised per value). */
  resolveAddresses(value: AddressValue): ResolvedAddresses {
    let resolved = this.addressMemo.get(value);
    if (!resolved && this.valueSize(value) > MAX_EXPANDED_ELEMENTS) {
      resolved = { prefixes: PrefixList.EMPTY, sets: [] }; // expansion-limit reports it
      this.addressMemo.set(value, resolved);
    }
    if (!resolved) {
      const elements = value.kind === 'list' ? value.elements : [value];
      const sets: string[] = [];
      const noteSets = (element: AddressElement | DefineLeaf): void => {
        if (element.kind === 'set-ref' && this.sets.has(element.name) && !sets.includes(element.name)) {
          sets.push(element.name);
        }
        if (element.kind === 'define-ref') (this.defineLeaves(element.name) ?? []).forEach(noteSets);
      };
      elements.forEach(noteSets);
      // A set alone is shared (union of one list), not copied: it may hold a million prefixes.
      resolved = { prefixes: PrefixList.union(elements.map((e) => this.elementPrefixes(e))), sets };
      this.addressMemo.set(value, resolved);
    }
    return resolved;
  }

  /** The port literals and ranges a `sport`/`dport` value stands for. */
  resolvePorts(value: PortValue): (PortLiteral | PortRange)[] {
    if (this.valueSize(value) > MAX_EXPANDED_ELEMENTS) return []; // expansion-limit reports it
    const elements = value.kind === 'list' ? value.elements : [value];
    return elements.flatMap((e) => {
      if (e.kind !== 'define-ref') return [e];
      return (this.defineLeaves(e.name) ?? []).filter(
        (leaf): leaf is PortLiteral | PortRange => leaf.kind === 'port' || leaf.kind === 'port-range',
      );
    });
  }

  /** Every rule of the document with its interface block, in order, and every `protect` (of no block). */
  rules(): readonly { block: InterfaceBlock | null; rule: Rule }[] {
    return (this.ruleList ??= documentRules(this.document));
  }
}

/** A check of the AST: one concern, every finding of the stage reported. */
export type Check = (context: CheckContext) => Diagnostic[];

/** A check of the lowered IR (warnings about what the policy means). */
export type IrCheck = (ir: IrPolicy, context: CheckContext) => Diagnostic[];
