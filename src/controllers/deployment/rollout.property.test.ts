// Property: during any rolling update, sampled after every controller step (and the ReplicaSet
// controller acting on it), available pods never drop below replicas − maxUnavailable and total pods
// never exceed replicas + maxSurge; and the rollout completes. The Deployment controller is the real
// pure planner (reconcileDeployment); the ReplicaSet controller and kubelet are a small fake: pods
// become ready after a random delay, deletions complete at once, unready pods are deleted first.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../api/types.js';
import { formatTime } from '../replicaset/pods.js';
import { reconcileDeployment, type DeploymentAction, type DeploymentStatus } from './reconcile.js';
import { canarySize, maxSurge, maxUnavailable, type IntOrPercent } from './rollout.js';

const T0 = Date.UTC(2024, 0, 1);
const STEP_MS = 1000;

interface Pod {
  name: string;
  rs: string;
  readyAt: number;
}
interface Rs {
  obj: KubeObject;
  replicas: number;
}

const template = (image: string): Record<string, unknown> => ({
  metadata: { labels: { app: 'web' } },
  spec: { containers: [{ name: 'c', image }] },
});

class World {
  now = T0;
  rss = new Map<string, Rs>();
  pods: Pod[] = [];
  deployment: KubeObject;
  private seq = 0;
  private readonly delays: number[];

  constructor(
    replicas: number,
    surge: IntOrPercent,
    unavailable: IntOrPercent,
    delays: number[],
    annotations: Record<string, string> = {},
  ) {
    this.delays = delays;
    this.deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'ns', uid: 'd', generation: 1, annotations: { ...annotations } },
      spec: {
        replicas,
        selector: { matchLabels: { app: 'web' } },
        template: template('v1'),
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: surge, maxUnavailable: unavailable } },
        revisionHistoryLimit: 10,
        progressDeadlineSeconds: 600,
      },
      status: {},
    };
  }

  isReady(p: Pod): boolean {
    return p.readyAt <= this.now;
  }

  rsObjects(): KubeObject[] {
    return [...this.rss.values()].map(({ obj, replicas }) => {
      const mine = this.pods.filter((p) => p.rs === obj.metadata.name);
      const ready = mine.filter((p) => this.isReady(p)).length;
      return {
        ...obj,
        spec: { ...(obj.spec as Record<string, unknown>), replicas },
        status: {
          replicas: mine.length,
          readyReplicas: ready,
          availableReplicas: ready,
          observedGeneration: obj.metadata.generation,
        },
      };
    });
  }

  /** One Deployment controller sync, its writes applied. */
  controllerStep(): DeploymentAction[] {
    const plan = reconcileDeployment({
      deployment: this.deployment,
      replicaSets: this.rsObjects(),
      pods: [],
      now: this.now,
    });
    for (const a of plan.actions) {
      if (a.type === 'createReplicaSet' || a.type === 'updateReplicaSet') {
        const name = a.replicaSet.metadata.name ?? '';
        const prev = this.rss.get(name);
        const obj = structuredClone(a.replicaSet);
        obj.metadata.uid ??= prev?.obj.metadata.uid ?? `uid-${name}`;
        obj.metadata.creationTimestamp ??= prev?.obj.metadata.creationTimestamp ?? formatTime(this.now);
        obj.metadata.generation = (prev?.obj.metadata.generation ?? 0) + 1;
        this.rss.set(name, { obj, replicas: (a.replicaSet.spec as { replicas: number }).replicas });
      } else if (a.type === 'deleteReplicaSet') {
        this.rss.delete(a.name);
        this.pods = this.pods.filter((p) => p.rs !== a.name);
      } else if (a.type === 'patchDeploymentAnnotations') {
        const ann: Record<string, string> = { ...(this.deployment.metadata.annotations ?? {}) };
        for (const [k, v] of Object.entries(a.annotations))
          if (v === null) delete ann[k];
          else ann[k] = v;
        this.deployment.metadata.annotations = ann;
      } else if (a.type === 'updateStatus') {
        this.deployment.status = a.status;
      } else if (a.type === 'patchDeploymentPaused') {
        this.setPaused(a.paused);
      }
    }
    return plan.actions;
  }

  /** The ReplicaSet controller: create missing pods (ready after a random delay), delete extra ones. */
  replicaSetStep(): void {
    for (const { obj, replicas } of this.rss.values()) {
      const name = obj.metadata.name ?? '';
      const mine = this.pods.filter((p) => p.rs === name);
      for (let i = mine.length; i < replicas; i++) {
        const delay = this.delays[this.seq % this.delays.length] ?? 1;
        this.pods.push({ name: `${name}-${this.seq++}`, rs: name, readyAt: this.now + delay * STEP_MS });
      }
      if (mine.length > replicas) {
        // Unready pods go first, then the youngest (as ReplicaSets choose).
        const victims = [...mine]
          .sort((a, b) => Number(this.isReady(a)) - Number(this.isReady(b)) || b.readyAt - a.readyAt)
          .slice(0, mine.length - replicas);
        this.pods = this.pods.filter((p) => !victims.includes(p));
      }
    }
  }

  setPaused(paused: boolean): void {
    (this.deployment.spec as Record<string, unknown>).paused = paused;
    this.deployment.metadata.generation = (this.deployment.metadata.generation ?? 1) + 1;
  }

  changeTemplate(image: string): void {
    (this.deployment.spec as Record<string, unknown>).template = template(image);
    this.deployment.metadata.generation = (this.deployment.metadata.generation ?? 1) + 1;
  }

  complete(replicas: number): boolean {
    const s = this.deployment.status as DeploymentStatus;
    return (
      (s.observedGeneration ?? 0) >= (this.deployment.metadata.generation ?? 0) &&
      (s.updatedReplicas ?? 0) === replicas &&
      (s.availableReplicas ?? 0) === replicas &&
      this.pods.length === replicas &&
      this.pods.every(
        (p) =>
          this.isReady(p) &&
          this.rss.get(p.rs)?.obj.metadata.annotations?.['deployment.kubernetes.io/revision'] === '2',
      )
    );
  }
}

const intOrPercent = (max: number): fc.Arbitrary<IntOrPercent> =>
  fc.oneof(
    fc.integer({ min: 0, max }),
    fc.integer({ min: 0, max: 100 }).map((n) => `${n}%`),
  );

describe('rolling update invariants (property)', () => {
  it('availability ≥ replicas − maxUnavailable, pods ≤ replicas + maxSurge at every step; completes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        intOrPercent(10),
        intOrPercent(10),
        fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 20 }),
        (replicas, surgeSpec, unavailableSpec, delays) => {
          const w = new World(replicas, surgeSpec, unavailableSpec, delays);
          const rd = {
            replicas,
            strategy: {
              type: 'RollingUpdate' as const,
              maxSurge: surgeSpec,
              maxUnavailable: unavailableSpec,
            },
            revisionHistoryLimit: 10,
            paused: false,
          };
          const surge = maxSurge(rd);
          const unavailable = maxUnavailable(rd);
          // Start fully available on v1.
          for (let i = 0; i < 50; i++) {
            w.controllerStep();
            w.replicaSetStep();
            w.now += STEP_MS;
          }
          w.now += 10 * STEP_MS;
          w.controllerStep();
          expect(w.pods.filter((p) => w.isReady(p))).toHaveLength(replicas);

          w.changeTemplate('v2');
          for (let step = 0; step < 400 && !w.complete(replicas); step++) {
            w.controllerStep();
            w.replicaSetStep();
            const available = w.pods.filter((p) => w.isReady(p)).length;
            expect(w.pods.length).toBeLessThanOrEqual(replicas + surge);
            expect(available).toBeGreaterThanOrEqual(replicas - unavailable);
            w.now += STEP_MS;
          }
          w.controllerStep();
          expect(w.complete(replicas)).toBe(true);
        },
      ),
      { numRuns: 80 },
    );
  });

  it('with a canary step: the same bounds, exactly the canary size of new pods while paused; completes on resume', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 20 }),
        intOrPercent(10),
        intOrPercent(10),
        fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 20 }),
        fc.oneof(
          fc.integer({ min: 1, max: 5 }).map(String),
          fc.integer({ min: 1, max: 60 }).map((n) => `${n}%`),
        ),
        (replicas, surgeSpec, unavailableSpec, delays, canary) => {
          const w = new World(replicas, surgeSpec, unavailableSpec, delays, {
            'flotilla.dev/canary': canary,
          });
          const rd = {
            replicas,
            strategy: {
              type: 'RollingUpdate' as const,
              maxSurge: surgeSpec,
              maxUnavailable: unavailableSpec,
            },
            revisionHistoryLimit: 10,
            paused: false,
          };
          const surge = maxSurge(rd);
          const unavailable = maxUnavailable(rd);
          const size = canarySize(canary, replicas);
          for (let i = 0; i < 50; i++) {
            w.controllerStep();
            w.replicaSetStep();
            w.now += STEP_MS;
          }
          w.changeTemplate('v2');
          const check = (): void => {
            expect(w.pods.length).toBeLessThanOrEqual(replicas + surge);
            expect(w.pods.filter((p) => w.isReady(p)).length).toBeGreaterThanOrEqual(replicas - unavailable);
          };
          const paused = (): boolean => (w.deployment.spec as { paused?: boolean }).paused === true;
          for (let step = 0; step < 400 && !paused() && !w.complete(replicas); step++) {
            w.controllerStep();
            w.replicaSetStep();
            check();
            w.now += STEP_MS;
          }
          if (size === undefined) {
            expect(paused()).toBe(false);
          } else {
            expect(paused()).toBe(true);
            // While paused: the canary size of new pods, the rest old, for as long as it stays paused.
            for (let step = 0; step < 20; step++) {
              w.controllerStep();
              w.replicaSetStep();
              check();
              w.now += STEP_MS;
            }
            const newPods = w.pods.filter(
              (p) => w.rss.get(p.rs)?.obj.metadata.annotations?.['deployment.kubernetes.io/revision'] === '2',
            );
            expect(newPods).toHaveLength(size);
            expect(w.pods.length - newPods.length).toBe(replicas - size);
            w.setPaused(false);
          }
          for (let step = 0; step < 400 && !w.complete(replicas); step++) {
            w.controllerStep();
            w.replicaSetStep();
            check();
            w.now += STEP_MS;
          }
          w.controllerStep();
          expect(w.complete(replicas)).toBe(true);
        },
      ),
      { numRuns: 50 },
    );
  });
});
