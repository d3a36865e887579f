/** Learning-rate schedule: linear warm-up, then cosine decay to a floor (as in GPT-2/3 and nanoGPT). */

export interface CosineSchedule {
  maxLr: number;
  minLr: number;
  warmupSteps: number;
  totalSteps: number;
}

/** The learning rate of step `step` (0-based). */
export function cosineLearningRate(step: number, schedule: CosineSchedule): number {
  const { maxLr, minLr, warmupSteps, totalSteps } = schedule;
  if (step < warmupSteps) return (maxLr * (step + 1)) / warmupSteps;
  if (step >= totalSteps) return minLr;
  const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
  return minLr + 0.5 * (maxLr - minLr) * (1 + Math.cos(Math.PI * progress));
}
