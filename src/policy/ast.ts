/**
 * The policy language's syntax tree. Produced by the peggy grammar
 * (src/policy/grammar.peggy) and consumed by the compiler's passes. Every node
 * carries the span of the text it came from, so every diagnostic can point at
 * it. The tree is plain data: JSON-serialisable, no classes, no methods, so
 * golden files can hold it.
 */

export interface Position {
  /** 0-based offset into the file's text. */
  offset: number;
  /** 1-based. */
  line: number;
  /** 1-based, in characters. */
  column: number;
}

export interface Span {
  /** The file name as the user wrote it (or as the include resolved it). */
  file: string;
  start: Position;
  end: Position;
}

export interface Node {
  span: Span;
}

export interface Identifier extends Node {
  kind: 'identifier';
  name: string;
}

export interface StringLiteral extends Node {
  kind: 'string';
  value: string;
}

// ---- values ---------------------------------------------------------------

/** An IPv4 or IPv6 address or CIDR, as written (`10.0.0.0/8`, `2001:db8::1`). */
export interface AddressLiteral extends Node {
  kind: 'address';
  /** The text as written; validation happens in the compiler (bad CIDR → diagnostic). */
  text: string;
}

/** A port number as written; range-checked in the compiler. */
export interface PortLiteral extends Node {
  kind: 'port';
  value: number;
}

/** `1024-65535`, inclusive. */
export interface PortRange extends Node {
  kind: 'port-range';
  low: number;
  high: number;
}

/** `@name`: a reference to a named set. */
export interface SetReference extends Node {
  kind: 'set-ref';
  name: string;
}

/** `$name`: a reference to a `define`. */
export interface DefineReference extends Node {
  kind: 'define-ref';
  name: string;
}

/** A bare number where a name is also allowed (`proto 47`, `icmp type 8`). */
export interface NumberLiteral extends Node {
  kind: 'number';
  value: number;
}

/** A name such as `echo-request` or `syn`. */
export interface NameLiteral extends Node {
  kind: 'name';
  name: string;
}

/** `30s`, `10m`, `6h`, `2d`: a number and a unit as written; checked and converted by the compiler. */
export interface DurationLiteral extends Node {
  kind: 'duration';
  value: number;
  unit: string;
}

/** `{ a, b, c }` — elements separated by commas and/or newlines. */
export interface ValueList<T> extends Node {
  kind: 'list';
  elements: T[];
}

export type AddressElement = AddressLiteral | SetReference | DefineReference;
/** What `src` / `dst` accept. */
export type AddressValue = AddressElement | ValueList<AddressElement>;

export type PortElement = PortLiteral | PortRange | DefineReference;
/** What `sport` / `dport` accept. */
export type PortValue = PortElement | ValueList<PortElement>;

/** A define's value: whatever its uses accept (checked at each use). */
export type DefineValue =
  | AddressLiteral
  | PortLiteral
  | PortRange
  | DefineReference
  | SetReference
  | ValueList<AddressLiteral | PortLiteral | PortRange | DefineReference | SetReference>;

// ---- top-level items ------------------------------------------------------

/** `define web = { 80, 443 }` */
export interface Define extends Node {
  kind: 'define';
  name: Identifier;
  value: DefineValue;
}

/** `set blocklist { … }` or `set bogons from "lists/bogons.txt"` */
export interface SetDeclaration extends Node {
  kind: 'set';
  name: Identifier;
  source: InlineSetSource | FileSetSource | DynamicSetSource;
}

/**
 * `set banned dynamic timeout 10m size 65536`: filled at run time (bans,
 * `xdpfw set add`), so it has no entries in the file; options are checked by
 * the compiler (src/compiler/rate-limits.ts).
 */
export interface DynamicSetSource extends Node {
  kind: 'dynamic';
  options: SettingOption[];
  /** Entries written after the options anyway; an error (dynamic-set-entries), kept to point at it. */
  entries: InlineSetSource | FileSetSource | null;
}

/** `name value` in a `limits { … }` block or after `set NAME dynamic`; any word parses, the compiler names unknown ones. */
export interface SettingOption extends Node {
  kind: 'option';
  name: Identifier;
  value: DurationLiteral | NumberLiteral;
}

export interface InlineSetSource extends Node {
  kind: 'inline';
  elements: AddressElement[];
}

/**
 * `from "file"`: one address or CIDR a line, `#` comments. The loader reads
 * the file through the injected SourceHost and records where each entry lies
 * in it (set-file.ts), so that a diagnostic can point at the entry.
 */
export interface FileSetSource extends Node {
  kind: 'file';
  path: StringLiteral;
  /** The resolved path the host read; undefined when it could not be read. */
  resolvedPath?: string;
  /** Null until the file is read (and when it could not be). */
  entries: SetFileEntries | null;
}

/**
 * A set file's entries as positions in its text rather than one node each: a
 * blocklist can hold millions, and a node with its span costs ~200 bytes.
 * Entry i is `text.slice(start[i], end[i])`; set-file.ts turns one into an
 * AddressLiteral, finding its line and column.
 */
export interface SetFileEntries {
  file: string;
  text: string;
  start: Uint32Array;
  end: Uint32Array;
}

/** `include "other.xdpfw"` — replaced by the included file's items. */
export interface Include extends Node {
  kind: 'include';
  path: StringLiteral;
  /** The resolved path the host read. */
  resolvedPath?: string;
}

/** `interface eth0 { … }` */
export interface InterfaceBlock extends Node {
  kind: 'interface';
  /** Interface names may contain `.`, `-`, `@`… (`eth0.100`, `xdpfw-fw0`). */
  name: Identifier;
  statements: InterfaceStatement[];
}

export type InterfaceStatement = DefaultStatement | ModeStatement | Rule;

/** `mode audit` (drops are counted as would-drops and passed) or `mode enforce` (the default). */
export interface ModeStatement extends Node {
  kind: 'mode';
  mode: 'audit' | 'enforce';
}

/** `audit` before a rule's action, or `log` after its matches: where the word stands, for diagnostics. */
export interface Keyword<K extends string> extends Node {
  kind: K;
}

export type Action = 'allow' | 'drop' | 'reject';

/** `default drop` */
export interface DefaultStatement extends Node {
  kind: 'default';
  action: Action;
}

/** `allow tcp dport 22 src 192.0.2.0/28 name "ssh-admins"` */
export interface Rule extends Node {
  kind: 'rule';
  /** `audit ACTION`: the rule counts and traces what it would decide while evaluation goes on. */
  audit?: Keyword<'audit'>;
  action: Action;
  matches: Match[];
  /** `log`: the rule's decisions go to the log stream. */
  log?: Keyword<'log'>;
  /** `ban @set [DURATION]`; undefined when the rule has none. */
  ban?: BanModifier;
  /** `name "…"`; undefined when the rule has none. */
  name?: StringLiteral;
}

/** `ban @banned 10m`: when the rule decides a packet, its `per` prefix (else its source) enters the dynamic set. */
export interface BanModifier extends Node {
  kind: 'ban';
  set: SetReference;
  /** Undefined: the set's timeout. */
  duration?: DurationLiteral | NumberLiteral;
}

// ---- matches --------------------------------------------------------------

/** `src 10.0.0.0/8`, `dst ! @blocklist`, `src { 192.0.2.0/28, 2001:db8::/32 }` */
export interface AddressMatch extends Node {
  kind: 'address-match';
  direction: 'src' | 'dst';
  negated: boolean;
  value: AddressValue;
}

/**
 * `tcp`, `udp`, `icmp`, `icmpv6`, `proto 47`. `tcp flags …` and
 * `icmp type …` / `icmpv6 type …` are parsed as separate matches that
 * immediately follow their protocol match in `Rule.matches`.
 */
export interface ProtocolMatch extends Node {
  kind: 'protocol-match';
  protocol: 'tcp' | 'udp' | 'icmp' | 'icmpv6' | NumberLiteral;
}

/** `sport 53`, `dport 1024-65535`, `dport { 80, 443 }`, `dport $web` */
export interface PortMatch extends Node {
  kind: 'port-match';
  direction: 'sport' | 'dport';
  value: PortValue;
}

/**
 * `tcp flags syn,fin` (all listed set) or `tcp flags syn / syn,ack` (of the
 * flags after `/`, exactly those before it are set). Flag names: fin syn rst
 * psh ack urg ece cwr; validated by the compiler. `tcp flags none / M`
 * (no flag of M set) has no flags, and needs its mask.
 */
export interface TcpFlagsMatch extends Node {
  kind: 'tcp-flags-match';
  /** Empty for `none`. */
  flags: NameLiteral[];
  /** The part after `/`; undefined for the first form. */
  mask?: NameLiteral[];
}

/** `icmp type echo-request`, `icmpv6 type { 128, nd-neighbor-solicit }` */
export interface IcmpTypeMatch extends Node {
  kind: 'icmp-type-match';
  protocol: 'icmp' | 'icmpv6';
  types: (NameLiteral | NumberLiteral)[];
}

/** `ip4` / `ip6` */
export interface FamilyMatch extends Node {
  kind: 'family-match';
  family: 'ip4' | 'ip6';
}

/** `ct state established,related`: the packet's connection state is one of these (names checked by the compiler). */
export interface CtStateMatch extends Node {
  kind: 'ct-state-match';
  states: NameLiteral[];
}

/**
 * `limit rate [over] N/UNIT [burst B] [per src|dst[/LEN[/LEN6]]]`: a token
 * bucket (docs/DESIGN.md, "Rate limits and dynamic sets"). Every part is
 * optional in the tree so that a missing rate is the compiler's located
 * error (limit-rate), not a bare syntax error.
 */
export interface LimitMatch extends Node {
  kind: 'limit-match';
  over: boolean;
  rate?: RateLiteral;
  /** Packets the bucket holds; undefined: 5. */
  burst?: NumberLiteral;
  per?: LimitPer;
}

/** `10/second`: the unit as written (second, minute, hour; checked by the compiler). */
export interface RateLiteral extends Node {
  kind: 'rate';
  value: NumberLiteral;
  unit: NameLiteral;
}

/** `per src/24/64`: one bucket per prefix of the field; no length is the whole address. */
export interface LimitPer extends Node {
  kind: 'per';
  field: 'src' | 'dst';
  lengths: NumberLiteral[];
}

export type Match = AddressMatch | ProtocolMatch | PortMatch | TcpFlagsMatch | IcmpTypeMatch | FamilyMatch | CtStateMatch | LimitMatch;

// ---- connection tracking ----------------------------------------------------

/** `conntrack { size 262144; tcp-established 6h }`: at most one per policy, includes counted. */
export interface ConntrackBlock extends Node {
  kind: 'conntrack';
  options: ConntrackOption[];
}

/** One `name value` of a conntrack block; any word parses, the compiler names unknown ones. */
export interface ConntrackOption extends Node {
  kind: 'conntrack-option';
  name: Identifier;
  /** A plain number is a count (`size`) or seconds (a timeout). */
  value: DurationLiteral | NumberLiteral;
}

/** `limits { size 65536 }`: the host's meter table; at most one per policy, includes counted. */
export interface LimitsBlock extends Node {
  kind: 'limits';
  options: SettingOption[];
}

/**
 * `protect tcp dport 22 src 192.0.2.0/24`: traffic that every interface's
 * rules must allow (the management path). The matches are a rule's; the
 * compiler refuses those that depend on state and proves the rest against
 * each interface (docs/language.md, "Lockout protection").
 */
export interface ProtectStatement extends Node {
  kind: 'protect';
  matches: Match[];
}

export type TopLevelItem = Define | SetDeclaration | InterfaceBlock | ConntrackBlock | LimitsBlock | ProtectStatement | Include;

/** One parsed file; includes are expanded into `files` of the PolicyDocument. */
export interface PolicyFile extends Node {
  kind: 'policy-file';
  items: TopLevelItem[];
}

/**
 * A whole policy: the root file and every file it includes, in the order
 * their items take effect (an include's items stand where the include is).
 * `items` is that flattened order; `files` keeps each file for reference.
 */
export interface PolicyDocument {
  root: string;
  files: PolicyFile[];
  items: Exclude<TopLevelItem, Include>[];
}
