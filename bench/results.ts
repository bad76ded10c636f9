// The result of one bench run, as bench/results/latest.json holds it: one interface per measurement. A
// measurement left out by BENCH_ONLY, or failed before its figures, is absent (no deploys: an empty list);
// its failure is in `errors`.
import type { OpMap } from "@pulumi/pulumi/automation";

export interface Results {
  date: string;
  machine: Machine;
  load: LoadSettings;
  errors: string[];
  /** Wall time of the run so far, rewritten at each save. */
  totalMinutes?: number;
  cold?: ColdUp;
  memory?: Memory;
  serving?: Serving;
  converge?: Converge;
  deploys: DeployUnderLoad[];
  destroyS?: number;
}

export interface Machine {
  cores: number;
  vm: string;
  node: string;
  /** The guest's `systemd-detect-virt` and processor count. */
  accel?: string;
}

/** The request loop of the deploys under load. */
export interface LoadSettings {
  ratePerS: number;
  keepAlive: boolean;
  tlsVerify: boolean;
  timeoutS: number;
}

// ---------------------------------------------------------------------------------------------------
// 1. converge cost: medians and ratios of interleaved rounds, times in seconds

export interface Converge {
  noopS: number[];
  /** Pulumi's empty inline program (no language host). */
  emptyS: number[];
  noopMedianS: number;
  emptyMedianS: number;
  /** No-op over the empty inline program. */
  ratio: number;
  /** An empty TypeScript project run as this one is (bench/floor.ts). */
  emptyTsS: number[];
  emptyTsMedianS: number;
  ratioTs: number;
  /** The stack's resources the same-shape floor rebuilds (all but the stack and the providers). */
  shapeResources: number;
  /** Of those, each host's: its Site component and everything under it; the rest are fleet-wide. */
  resourcesPerHost: Record<string, number>;
  shapeS: number[];
  shapeMedianS: number;
  ratioShape: number;
  ratioShapeTs: number;
  shapeNoDynamicS: number[];
  shapeNoDynamicMedianS: number;
  ratioShapeNoDynamicTs: number;
  /** sshd logins by `deploy` during each no-op, minus the bench's own query. */
  remoteCommandsPerNoop: number[];
  noopChanges: OpMap[];
  /** The journal query that counted them. */
  sshLoginQuery: string;
}

// ---------------------------------------------------------------------------------------------------
// 2. deploys under load

/** What a fixed-rate request loop saw. */
export interface LoopResult {
  sent: number;
  ok: number;
  failed: number;
  /** Failed requests by reason. */
  failures: Record<string, number>;
  /** Each failed request: when it was sent (seconds since the loop started) and why it failed. */
  failedAt: { sentS: number; why: string }[];
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** What a failed `up` said: the CLI's exit code, its first error line and the switch's refusal, if any. */
export interface UpFailure {
  exit: number;
  firstError?: string;
  refusal?: string;
}

/** One change deployed while the request loop runs, or the loop's baseline with nothing deployed. */
export interface DeployUnderLoad extends LoopResult {
  what: string;
  deployS: number;
  /** When the up started, seconds after the loop (absent for the baseline). */
  upStartS?: number;
  /** The up's resource changes but the unchanged. */
  changes: OpMap;
  /** A deploy that must fail: how it failed. */
  failure?: UpFailure;
  /** The service's journal over the up, if any request failed. */
  journal?: string[];
  /** A deploy that must fail: what the site served after it (200 characters), and whether the old version did. */
  bodyAfter?: string;
  oldBodyKept?: boolean;
  /** A deploy that must fail: the up that converged after the good version was put back. */
  restore?: { upS: number; changes: OpMap };
}

// ---------------------------------------------------------------------------------------------------
// 3. serving overhead

/** One wrk run. */
export interface Wrk {
  requestsPerS: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  non2xx: number;
  socketErrors: string;
}

/** A path's figures over gunicorn's. */
export interface Ratios {
  requestsPerS: number;
  p50: number;
  p99: number;
}

/** Each round's request rate over its base round's, and their median. */
export interface RoundRatios {
  median: number;
  rounds: number[];
}

/** gunicorn directly, nginx on the socket-activated ports (this design), nginx through pasta (the previous design). */
export type ServingPath = "gunicorn" | "nginx" | "nginxPasta";

export interface Serving {
  tool: string;
  rounds: number;
  runs: Record<ServingPath, Wrk[]>;
  /** Seconds until the pasta side container answered. */
  pastaReadyS: number;
  /** The runs with the median request rate. */
  gunicorn: Wrk;
  nginx: Wrk;
  nginxPasta: Wrk;
  /** Of the medians. */
  ratio: Ratios;
  ratioPasta: Ratios;
  roundRatio: RoundRatios;
  roundRatioPasta: RoundRatios;
}

// ---------------------------------------------------------------------------------------------------
// 4. cold provisioning

/** The cold up's phases, in the table's order. */
export const PHASES = ["user & ids", "files", "image", "check & start", "other"] as const;
export type Phase = (typeof PHASES)[number];

/** A phase's resources: their summed durations, and the wall time from the first start to the last end. */
export interface PhaseTiming {
  resources: number;
  sumS: number;
  spanS: number;
  /** Seconds after the up's first resource started. */
  firstStartS: number;
  lastEndS: number;
}

export interface ResourceTiming {
  name: string;
  phase: Phase;
  startS: number;
  durationS: number;
}

export interface ColdUp {
  totalS: number;
  /** Custom resources created. */
  resources: number;
  phases: Partial<Record<Phase, PhaseTiming>>;
  perResource: ResourceTiming[];
}

// ---------------------------------------------------------------------------------------------------
// 5. memory

/** RSS of the service container's processes and of all the system user's processes. */
export interface Rss {
  containerMiB: number;
  userMiB: number;
  containerProcesses: number;
}

export interface Memory {
  idle: Rss;
  /** The largest of `loadSamples`. */
  load?: Rss;
  /** Taken during one more nginx wrk run. */
  loadSamples?: Rss[];
}
