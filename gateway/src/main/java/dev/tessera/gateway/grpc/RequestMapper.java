package dev.tessera.gateway.grpc;

import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.engine.InvalidArgumentException;
import dev.tessera.engine.text.model.ModelInfo;
import dev.tessera.engine.text.sampling.SamplingParams;
import io.vertx.grpc.common.GrpcStatus;

/**
 * Checks every field of a {@link GenerateRequest} and turns it into the scheduler's request. Failures are
 * {@link CallException}s: INVALID_ARGUMENT naming the field (as a proto field path), NOT_FOUND for an unknown
 * model. Sampling defaults follow {@link SamplingParams.Builder}: unset fields keep them.
 */
public final class RequestMapper {
    /** max_tokens when unset, as in vLLM. */
    public static final int DEFAULT_MAX_TOKENS = 16;

    private final ModelInfo model;
    private final int maxPromptTokens;

    /**
     * @param model           the served model
     * @param maxPromptTokens longest prompt accepted as token ids; 0 means the model's context length
     */
    public RequestMapper(ModelInfo model, int maxPromptTokens) {
        this.model = model;
        this.maxPromptTokens = maxPromptTokens > 0 ? Math.min(maxPromptTokens, model.maxModelLen())
                : model.maxModelLen();
    }

    public ModelInfo model() {
        return model;
    }

    /** Checks the model name: empty or the served one. */
    public void checkModel(String name) {
        if (!name.isEmpty() && !name.equals(model.name())) {
            throw CallError.of(GrpcStatus.NOT_FOUND,
                    "model '" + name + "' is not served here; available: '" + model.name() + "'").exception();
        }
    }

    /** Validates {@code request} and maps it; {@code requestId} is the scheduler's id of the job. */
    public dev.tessera.scheduler.GenerateRequest toScheduler(String requestId, GenerateRequest request) {
        checkModel(request.getModel());
        String prompt = null;
        int[] ids = null;
        switch (request.getInputCase()) {
            case PROMPT -> {
                prompt = request.getPrompt();
                if (prompt.isEmpty()) {
                    throw CallError.invalid("prompt", "must not be empty").exception();
                }
            }
            case PROMPT_TOKEN_IDS -> {
                int count = request.getPromptTokenIds().getIdsCount();
                if (count == 0) {
                    throw CallError.invalid("prompt_token_ids.ids", "must not be empty").exception();
                }
                if (count > maxPromptTokens) {
                    throw CallError.invalid("prompt_token_ids.ids",
                            count + " tokens exceed the limit of " + maxPromptTokens).exception();
                }
                ids = new int[count];
                for (int i = 0; i < count; i++) {
                    int id = request.getPromptTokenIds().getIds(i);
                    if (id < 0 || id >= model.vocabSize()) {
                        throw CallError.invalid("prompt_token_ids.ids", "id " + Integer.toUnsignedString(id)
                                + " at index " + i + " is outside the vocabulary [0, " + model.vocabSize() + ")")
                                .exception();
                    }
                    ids[i] = id;
                }
            }
            case INPUT_NOT_SET -> throw CallError.invalid("input", "one of prompt or prompt_token_ids must be set")
                    .exception();
        }
        SamplingParams params = sampling(request.getSampling());
        if (ids != null && ids.length + params.maxTokens() > model.maxModelLen()) {
            throw CallError.invalid("sampling.max_tokens", ids.length + " prompt tokens + max_tokens "
                    + params.maxTokens() + " exceed the model's context length " + model.maxModelLen()).exception();
        }
        return new dev.tessera.scheduler.GenerateRequest(requestId, prompt, ids, params, request.getPriority());
    }

    /** Maps and validates sampling parameters; field names are prefixed with {@code sampling.}. */
    SamplingParams sampling(dev.tessera.api.v1.SamplingParams p) {
        SamplingParams.Builder b = SamplingParams.builder().maxTokens(DEFAULT_MAX_TOKENS);
        if (p.hasMaxTokens()) {
            long maxTokens = Integer.toUnsignedLong(p.getMaxTokens());
            if (maxTokens < 1) {
                throw CallError.invalid("sampling.max_tokens", "must be >= 1, got " + maxTokens).exception();
            }
            if (maxTokens > model.maxModelLen()) {
                throw CallError.invalid("sampling.max_tokens", "must be <= " + model.maxModelLen()
                        + " (the model's context length), got " + maxTokens).exception();
            }
            b.maxTokens((int) maxTokens);
        }
        if (p.hasTemperature()) {
            b.temperature(p.getTemperature());
        }
        if (p.hasTopP()) {
            b.topP(p.getTopP());
        }
        if (p.hasTopK()) {
            b.topK(p.getTopK());
        }
        if (p.hasMinP()) {
            b.minP(p.getMinP());
        }
        if (p.hasRepetitionPenalty()) {
            b.repetitionPenalty(p.getRepetitionPenalty());
        }
        if (p.hasPresencePenalty()) {
            b.presencePenalty(p.getPresencePenalty());
        }
        if (p.hasFrequencyPenalty()) {
            b.frequencyPenalty(p.getFrequencyPenalty());
        }
        if (p.hasSeed()) {
            b.seed(p.getSeed());
        }
        if (p.hasIgnoreEos()) {
            b.ignoreEos(p.getIgnoreEos());
        }
        if (p.hasN()) {
            b.n(unsignedInt("sampling.n", p.getN()));
        }
        if (p.hasLogprobs()) {
            b.logprobs(unsignedInt("sampling.logprobs", p.getLogprobs()));
        }
        b.stop(p.getStopList());
        int[] stopIds = new int[p.getStopTokenIdsCount()];
        for (int i = 0; i < stopIds.length; i++) {
            stopIds[i] = unsignedInt("sampling.stop_token_ids", p.getStopTokenIds(i));
        }
        b.stopTokenIds(stopIds);
        SamplingParams params = b.build();
        try {
            params.validate(model.vocabSize());
        } catch (InvalidArgumentException e) {
            String detail = e.getMessage().startsWith(e.field() + ": ")
                    ? e.getMessage().substring(e.field().length() + 2) : e.getMessage();
            throw CallError.invalid("sampling." + e.field(), detail).exception();
        }
        return params;
    }

    private static int unsignedInt(String field, int value) {
        if (value < 0) {
            throw CallError.invalid(field, "value " + Integer.toUnsignedString(value) + " is out of range")
                    .exception();
        }
        return value;
    }
}
