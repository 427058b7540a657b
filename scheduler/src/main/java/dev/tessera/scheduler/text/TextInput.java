package dev.tessera.scheduler.text;

import dev.tessera.engine.InvalidArgumentException;
import dev.tessera.engine.text.model.ModelInfo;
import dev.tessera.engine.text.sampling.SamplingParams;
import dev.tessera.engine.text.tokenizer.Tokenizer;
import dev.tessera.scheduler.core.JobFailure;
import dev.tessera.scheduler.core.PromptBytes;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import org.jspecify.annotations.Nullable;

/**
 * The input processor of text jobs: every check of a {@link GenerateRequest}, and tokenization, in one place. It
 * runs on the serving layer's input threads, never on a network event loop or on the loop thread. Failures are
 * INVALID_ARGUMENT naming the request field as a proto field path ({@code prompt}, {@code prompt_token_ids.ids},
 * {@code sampling.top_p}...).
 *
 * <p>A text prompt that cannot fit is refused before it is tokenized, by its UTF-8 bytes ({@link PromptBytes}: no
 * token stands for more than the tokenizer's {@code maxTokenBytes}, so {@code n} bytes are at least
 * {@code ceil(n / maxTokenBytes)} tokens); a chat by the sum of its messages' text. The network edge applies the
 * same bound (from the {@link dev.tessera.scheduler.core.ModelCard}) before it even decodes the prompt; this check
 * holds for every caller. A prompt within the bound is tokenized here, off the hot threads, and then counted.
 *
 * <p>Chat messages are rendered by the model's {@link ChatTemplate} here too, then tokenized without adding special
 * tokens (the template writes them), as transformers' {@code apply_chat_template} does. A model without a template
 * refuses them; a chat with {@code max_tokens} unset may fill the rest of the context, as in vLLM.
 *
 * <p>Thread-safe (stateless; the tokenizer is thread-safe).
 */
final class TextInput {
    /** max_tokens when unset, as in vLLM. */
    static final int DEFAULT_MAX_TOKENS = 16;
    /** Longest stop string, in characters (the output threads match every stop string on every delta). */
    public static final int MAX_STOP_CHARS = 256;
    /** Most {@code stop_token_ids} a request may carry. */
    public static final int MAX_STOP_TOKEN_IDS = 256;

    private final ModelInfo info;
    private final Tokenizer tokenizer;
    private final int maxPromptTokens;
    private final PromptBytes promptBytes;
    private final int kvTokens;
    private final @Nullable ChatTemplate chatTemplate;
    /** Prepares a chat's images (a vision-language model); null: image parts are refused. */
    private final @Nullable ImagePrompts images;

    /**
     * @param info            the model (vocabulary, length)
     * @param tokenizer       its tokenizer; not owned
     * @param maxPromptTokens the longest prompt accepted (capped at the model's length minus one)
     * @param kvTokens        tokens the whole KV cache holds (a request must fit alone)
     * @param chatTemplate    renders chat messages; null when the model has none (chat is refused)
     */
    TextInput(ModelInfo info, Tokenizer tokenizer, int maxPromptTokens, int kvTokens) {
        this(info, tokenizer, maxPromptTokens, kvTokens, null);
    }

    TextInput(ModelInfo info, Tokenizer tokenizer, int maxPromptTokens, int kvTokens,
              @Nullable ChatTemplate chatTemplate) {
        this(info, tokenizer, maxPromptTokens, kvTokens, chatTemplate, null);
    }

    /** Input processing that also takes images in chat messages, prepared by {@code images}. */
    TextInput(ModelInfo info, Tokenizer tokenizer, int maxPromptTokens, int kvTokens,
              @Nullable ChatTemplate chatTemplate, @Nullable ImagePrompts images) {
        this.info = info;
        this.tokenizer = tokenizer;
        this.maxPromptTokens = Math.min(maxPromptTokens, info.maxModelLen() - 1);
        this.promptBytes = new PromptBytes(tokenizer.maxTokenBytes(), this.maxPromptTokens, info.maxModelLen());
        this.kvTokens = kvTokens;
        this.chatTemplate = chatTemplate;
        this.images = images;
    }

    /** A tokenized prompt, with its images when it has any. */
    private record Prompt(int[] tokens, @Nullable MultimodalPrompt multimodal) {
    }

    int maxPromptTokens() {
        return maxPromptTokens;
    }

    /** The bound on a prompt's bytes (and on the sum of a chat's text). */
    PromptBytes promptBytes() {
        return promptBytes;
    }

    /**
     * Validates and tokenizes {@code r}.
     *
     * @throws dev.tessera.scheduler.core.JobException INVALID_ARGUMENT naming the field
     */
    PreparedText prepare(GenerateRequest r, long arrivalNanos) {
        SamplingParams params = sampling(r.sampling());
        Prompt tokenized = prompt(r);
        int[] prompt = tokenized.tokens();
        if (r.messages() != null && r.sampling().maxTokens() == null) params = fillContext(params, prompt.length);
        if ((long) prompt.length + params.maxTokens() > info.maxModelLen()) {
            throw JobFailure.invalid("sampling.max_tokens", prompt.length + " prompt tokens + max_tokens "
                    + params.maxTokens() + " exceed the model's context length " + info.maxModelLen()).exception();
        }
        if ((long) prompt.length + params.maxTokens() > kvTokens) {
            throw JobFailure.invalid("sampling.max_tokens", prompt.length + " prompt tokens + max_tokens "
                    + params.maxTokens() + " need more KV cache than the server has (" + kvTokens + " tokens)")
                    .exception();
        }
        long seed = params.seed() != null ? params.seed() : ThreadLocalRandom.current().nextLong();
        return new PreparedText(r.requestId(), prompt, params, r.priority(), seed, arrivalNanos,
                tokenized.multimodal(), resumed(r.resumeTokenIds(), params));
    }

    /**
     * The output tokens a resumed stream already delivered: in the vocabulary, fewer than max_tokens, none that
     * would have ended the stream (end of sequence, a stop token id), one sample only.
     */
    private int[] resumed(long @Nullable [] ids, SamplingParams p) {
        if (ids == null || ids.length == 0) return new int[0];
        String field = "resume_token_ids";
        if (p.n() != 1) throw JobFailure.invalid(field, "a stream resumes one sample: needs n = 1").exception();
        if (ids.length >= p.maxTokens()) {
            throw JobFailure.invalid(field, ids.length + " tokens already reach max_tokens " + p.maxTokens()
                    + ": the stream was complete").exception();
        }
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            long id = ids[i];
            if (id < 0 || id >= info.vocabSize()) {
                throw JobFailure.invalid(field, "token " + Long.toUnsignedString(id) + " at " + i
                        + " is outside the vocabulary [0, " + info.vocabSize() + ")").exception();
            }
            int t = (int) id;
            boolean ends = (!p.ignoreEos() && contains(info.eosTokenIds(), t)) || contains(p.stopTokenIds(), t);
            if (ends) {
                throw JobFailure.invalid(field, "token " + t + " at " + i + " ends the stream (end of sequence or a"
                        + " stop token id): nothing follows it").exception();
            }
            out[i] = t;
        }
        return out;
    }

    private static boolean contains(int[] ids, int token) {
        for (int id : ids) {
            if (id == token) return true;
        }
        return false;
    }

    private Prompt prompt(GenerateRequest r) {
        boolean hasText = r.prompt() != null;
        boolean hasIds = r.promptTokenIds() != null;
        boolean hasMessages = r.messages() != null;
        if ((hasText ? 1 : 0) + (hasIds ? 1 : 0) + (hasMessages ? 1 : 0) != 1) {
            throw JobFailure.invalid("input", "exactly one of prompt, prompt_token_ids or messages must be set")
                    .exception();
        }
        if (hasMessages) return chat(r.messages(), r.minPixels(), r.maxPixels());
        if (hasIds) {
            long[] ids = r.promptTokenIds();
            if (ids.length == 0) throw JobFailure.invalid("prompt_token_ids.ids", "must not be empty").exception();
            if (ids.length > maxPromptTokens) {
                throw JobFailure.invalid("prompt_token_ids.ids", ids.length + " tokens exceed the limit of "
                        + maxPromptTokens).exception();
            }
            int[] out = new int[ids.length];
            for (int i = 0; i < ids.length; i++) {
                if (ids[i] < 0 || ids[i] >= info.vocabSize()) {
                    throw JobFailure.invalid("prompt_token_ids.ids", "id " + ids[i] + " at index " + i
                            + " is outside the vocabulary [0, " + info.vocabSize() + ")").exception();
                }
                out[i] = (int) ids[i];
            }
            return new Prompt(out, null);
        }
        String text = r.prompt();
        if (text.isEmpty()) throw JobFailure.invalid("prompt", "must not be empty").exception();
        long bytes = PromptBytes.utf8Length(text);
        if (promptBytes.exceeded(bytes)) throw promptBytes.failure("prompt", bytes).exception();
        return new Prompt(tokenize("prompt", text, true), null);
    }

    private int[] tokenize(String field, String text, boolean addSpecialTokens) {
        int[] ids = tokenizer.encode(text, addSpecialTokens);
        if (ids.length == 0) throw JobFailure.invalid(field, "encodes to no tokens").exception();
        if (ids.length > maxPromptTokens) {
            throw JobFailure.invalid(field, ids.length + " tokens exceed the limit of " + maxPromptTokens)
                    .exception();
        }
        return ids;
    }

    /**
     * Renders and tokenizes a chat. Too much text is refused before rendering, by the same bound as a prompt on the
     * sum of the messages' text (naming the message that passes it); the rendered text is then counted in tokens.
     */
    private Prompt chat(List<ChatMessage> messages, @Nullable Long minPixels, @Nullable Long maxPixels) {
        if (chatTemplate == null) {
            throw JobFailure.invalid("messages", "model " + JobFailure.quote(info.name()) + " has no chat template"
                    + " (tokenizer_config.json has no chat_template); send a prompt instead").exception();
        }
        if (messages.isEmpty()) throw JobFailure.invalid("messages", "must not be empty").exception();
        long bytes = 0;
        List<ImagePrompts.Part> imageParts = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            ChatMessage m = messages.get(i);
            if (m.role().isEmpty()) {
                throw JobFailure.invalid("messages[" + i + "].role", "must not be empty").exception();
            }
            for (int j = 0; j < m.content().size(); j++) {
                if (m.content().get(j) instanceof ChatMessage.Part.Text t) {
                    bytes += PromptBytes.utf8Length(t.text());
                } else if (m.content().get(j) instanceof ChatMessage.Part.Empty) {
                    throw JobFailure.invalid("messages[" + i + "].content[" + j + "]", "set text or image")
                            .exception();
                } else if (images != null && m.content().get(j) instanceof ChatMessage.Part.Image im) {
                    imageParts.add(new ImagePrompts.Part(im.image(), "messages[" + i + "].content[" + j + "]"));
                } else {
                    throw JobFailure.invalid("messages[" + i + "].content[" + j + "]", "model "
                            + JobFailure.quote(info.name()) + " takes text only, not images").exception();
                }
            }
            if (promptBytes.exceeded(bytes)) {
                throw promptBytes.failure("messages[" + i + "].content", bytes).exception();
            }
        }
        String text;
        try {
            text = chatTemplate.render(messages, true);
        } catch (ChatTemplateException e) {
            throw JobFailure.invalid("messages", e.getMessage()).exception();
        }
        int[] ids = tokenize("messages", text, false);
        if (images == null || imageParts.isEmpty()) return new Prompt(ids, null);
        ImagePrompts.Expanded expanded = images.expand(ids, imageParts, minPixels, maxPixels);
        if (expanded.tokens().length > maxPromptTokens) {
            throw JobFailure.invalid("messages", expanded.tokens().length + " tokens with the images' placeholders"
                    + " exceed the limit of " + maxPromptTokens + "; send fewer or smaller images (max_pixels)")
                    .exception();
        }
        return new Prompt(expanded.tokens(), expanded.prompt());
    }

    /** A chat with max_tokens unset may use the rest of the context (and of the KV cache), as in vLLM. */
    private SamplingParams fillContext(SamplingParams p, int promptTokens) {
        int room = Math.min(info.maxModelLen(), kvTokens) - promptTokens;
        if (room < 1) {
            throw JobFailure.invalid("messages", promptTokens + " prompt tokens leave no room to answer within "
                    + Math.min(info.maxModelLen(), kvTokens) + " tokens").exception();
        }
        return new SamplingParams(p.temperature(), p.topK(), p.topP(), p.minP(), p.repetitionPenalty(),
                p.presencePenalty(), p.frequencyPenalty(), p.seed(), room, p.stop(), p.stopTokenIds(),
                p.ignoreEos(), p.n(), p.logprobs());
    }

    /** Resolves defaults and checks every sampling field; names are prefixed {@code sampling.}. */
    SamplingParams sampling(Sampling p) {
        SamplingParams.Builder b = SamplingParams.builder().maxTokens(DEFAULT_MAX_TOKENS);
        if (p.maxTokens() != null) {
            long maxTokens = p.maxTokens();
            if (maxTokens < 1) {
                throw JobFailure.invalid("sampling.max_tokens", "must be >= 1, got " + maxTokens).exception();
            }
            if (maxTokens > info.maxModelLen()) {
                throw JobFailure.invalid("sampling.max_tokens", "must be <= " + info.maxModelLen()
                        + " (the model's context length), got " + maxTokens).exception();
            }
            b.maxTokens((int) maxTokens);
        }
        if (p.temperature() != null) b.temperature(p.temperature());
        if (p.topP() != null) b.topP(p.topP());
        if (p.topK() != null) b.topK(p.topK());
        if (p.minP() != null) b.minP(p.minP());
        if (p.repetitionPenalty() != null) b.repetitionPenalty(p.repetitionPenalty());
        if (p.presencePenalty() != null) b.presencePenalty(p.presencePenalty());
        if (p.frequencyPenalty() != null) b.frequencyPenalty(p.frequencyPenalty());
        if (p.seed() != null) b.seed(p.seed());
        if (p.ignoreEos() != null) b.ignoreEos(p.ignoreEos());
        if (p.n() != null) b.n(smallInt("sampling.n", p.n()));
        if (p.logprobs() != null) b.logprobs(smallInt("sampling.logprobs", p.logprobs()));
        if (p.stop().size() > SamplingParams.MAX_STOP) {
            throw JobFailure.invalid("sampling.stop", "at most " + SamplingParams.MAX_STOP + " strings, got "
                    + p.stop().size()).exception();
        }
        for (int i = 0; i < p.stop().size(); i++) {
            String stop = p.stop().get(i);
            if (stop.length() > MAX_STOP_CHARS) {
                throw JobFailure.invalid("sampling.stop", "string " + i + " has " + stop.length()
                        + " characters, over the limit of " + MAX_STOP_CHARS).exception();
            }
        }
        b.stop(p.stop());
        if (p.stopTokenIds().length > MAX_STOP_TOKEN_IDS) {
            throw JobFailure.invalid("sampling.stop_token_ids", p.stopTokenIds().length + " ids, over the limit of "
                    + MAX_STOP_TOKEN_IDS).exception();
        }
        int[] stopIds = new int[p.stopTokenIds().length];
        for (int i = 0; i < stopIds.length; i++) {
            long id = p.stopTokenIds()[i];
            if (id < 0 || id >= info.vocabSize()) {
                throw JobFailure.invalid("sampling.stop_token_ids", "id " + id + " at index " + i
                        + " is outside the vocabulary [0, " + info.vocabSize() + ")").exception();
            }
            stopIds[i] = (int) id;
        }
        b.stopTokenIds(stopIds);
        SamplingParams params = b.build();
        try {
            params.validate(info.vocabSize());
        } catch (InvalidArgumentException e) {
            String detail = e.getMessage().startsWith(e.field() + ": ")
                    ? e.getMessage().substring(e.field().length() + 2) : e.getMessage();
            throw JobFailure.invalid("sampling." + e.field(), detail).exception();
        }
        return params;
    }

    private static int smallInt(String field, long value) {
        if (value < 0 || value > Integer.MAX_VALUE) {
            throw JobFailure.invalid(field, "value " + value + " is out of range").exception();
        }
        return (int) value;
    }
}
