/** Completions from the edited model, with each answer's route. */
import { readJsonBody, sendJson } from '../http.js';
import { completionRequestSchema } from '../openapi.js';
import { type Route, type RouteContext, validated } from './route.js';

export function completionRoutes({ service, limits, metrics }: RouteContext): Route[] {
  const completionSchema = completionRequestSchema(limits);
  return [
    {
      method: 'POST',
      template: '/v1/completions',
      pattern: /^\/v1\/completions$/,
      handle: async (request, response) => {
        const body = validated<{ prompt: string; max_tokens?: number; temperature?: number; top_p?: number; seed?: number }>(
          completionSchema,
          await readJsonBody(request, limits.maxBodyBytes),
        );
        const completion = service.complete({
          prompt: body.prompt,
          maxTokens: body.max_tokens ?? 16,
          temperature: body.temperature,
          topP: body.top_p,
          seed: body.seed,
        });
        const { decision } = completion;
        metrics.observeCompletion(decision.deferred);
        sendJson(response, 200, {
          id: `cmpl-${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`,
          object: 'text_completion',
          created: Math.floor(Date.now() / 1000),
          model: service.modelName,
          text: completion.text,
          deferred: decision.deferred,
          // null when no edit is stored: there is nothing to be near.
          distance: Number.isFinite(decision.distance) ? decision.distance : null,
          nearest_edit: decision.nearestId,
          // The subject gate's match (absent with the code gate alone).
          ...(decision.matched === undefined ? {} : { matched_edit: decision.matched }),
          experts: decision.experts,
          blocks: service.state.editor.editedBlocks,
          generation: completion.generation,
          choices: [{ index: 0, text: completion.text, finish_reason: completion.finishReason }],
          usage: {
            prompt_tokens: completion.promptTokens,
            completion_tokens: completion.completionTokens,
            total_tokens: completion.promptTokens + completion.completionTokens,
          },
        });
      },
    },
  ];
}
