package dev.tessera.gateway.openai;

import dev.tessera.scheduler.core.JobEvent;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.function.IntFunction;
import org.jspecify.annotations.Nullable;

/**
 * One choice (one sample) of an answer, in the making: its text, its log-probabilities in the endpoint's form,
 * its finish reason and usage. A streamed answer writes each delta as it comes; a whole answer accumulates here.
 *
 * <p>Log-probabilities are those of the processed distribution (after temperature, penalties, top-k/p), as vLLM
 * returns by default; {@code -Infinity} is written as {@value #FLOOR}, as vLLM does, since JSON has no infinity.
 */
final class Choice {
    static final double FLOOR = -9999.0;

    final int index;
    private final Endpoint endpoint;
    private final int top;
    private final IntFunction<String> tokenText;
    private final StringBuilder text = new StringBuilder();
    private final JsonArray chatContent = new JsonArray();
    private final JsonArray tokens = new JsonArray();
    private final JsonArray tokenLogprobs = new JsonArray();
    private final JsonArray topLogprobs = new JsonArray();
    private final JsonArray textOffsets = new JsonArray();
    private int offset;
    private boolean hasLogprobs;
    private boolean started;
    private @Nullable String finishReason;

    /**
     * @param top       alternatives per token to write
     * @param tokenText the text of a token id alone
     */
    Choice(int index, Endpoint endpoint, int top, IntFunction<String> tokenText) {
        this.index = index;
        this.endpoint = endpoint;
        this.top = top;
        this.tokenText = tokenText;
    }

    /** True the first time only: a streamed chat choice opens with the assistant's role. */
    boolean start() {
        if (started) return false;
        started = true;
        return true;
    }

    /** Appends a delta; returns its log-probabilities in the endpoint's form, or null when none were asked. */
    @Nullable JsonObject add(JobEvent.TokenDelta d, boolean withLogprobs) {
        text.append(d.text());
        if (!withLogprobs || d.logprobs().isEmpty()) return null;
        hasLogprobs = true;
        return endpoint == Endpoint.CHAT ? chat(d.logprobs()) : completion(d.logprobs());
    }

    void finish(JobEvent.FinishReason reason) {
        finishReason = reason(reason);
    }

    String text() {
        return text.toString();
    }

    @Nullable String finishReason() {
        return finishReason;
    }

    /** Every log-probability so far, or null when none were asked. */
    @Nullable JsonObject logprobs() {
        if (!hasLogprobs) return null;
        if (endpoint == Endpoint.CHAT) return new JsonObject().put("content", chatContent).putNull("refusal");
        return new JsonObject().put("tokens", tokens).put("token_logprobs", tokenLogprobs)
                .put("top_logprobs", topLogprobs).put("text_offset", textOffsets);
    }

    private JsonObject chat(List<JobEvent.TokenLogprob> lps) {
        JsonArray content = new JsonArray();
        for (JobEvent.TokenLogprob lp : lps) {
            JsonArray alternatives = new JsonArray();
            for (int i = 0; i < Math.min(top, lp.topIds().length); i++) {
                alternatives.add(entry(lp.topIds()[i], lp.topLogprobs()[i]));
            }
            JsonObject e = entry(lp.tokenId(), lp.logprob()).put("top_logprobs", alternatives);
            content.add(e);
            chatContent.add(e);
        }
        return new JsonObject().put("content", content).putNull("refusal");
    }

    private JsonObject entry(int id, float logprob) {
        String token = tokenText.apply(id);
        JsonArray bytes = new JsonArray();
        for (byte b : token.getBytes(StandardCharsets.UTF_8)) bytes.add(b & 0xff);
        return new JsonObject().put("token", token).put("logprob", value(logprob)).put("bytes", bytes);
    }

    private JsonObject completion(List<JobEvent.TokenLogprob> lps) {
        JsonArray ts = new JsonArray();
        JsonArray lpv = new JsonArray();
        JsonArray tops = new JsonArray();
        JsonArray offsets = new JsonArray();
        for (JobEvent.TokenLogprob lp : lps) {
            String token = tokenText.apply(lp.tokenId());
            JsonObject alternatives = new JsonObject();
            for (int i = 0; i < Math.min(top, lp.topIds().length); i++) {
                alternatives.put(tokenText.apply(lp.topIds()[i]), value(lp.topLogprobs()[i]));
            }
            ts.add(token);
            lpv.add(value(lp.logprob()));
            tops.add(alternatives);
            offsets.add(offset);
            offset += token.length();
        }
        tokens.addAll(ts);
        tokenLogprobs.addAll(lpv);
        topLogprobs.addAll(tops);
        textOffsets.addAll(offsets);
        return new JsonObject().put("tokens", ts).put("token_logprobs", lpv).put("top_logprobs", tops)
                .put("text_offset", offsets);
    }

    private static double value(float logprob) {
        return Float.isFinite(logprob) ? logprob : FLOOR;
    }

    /** OpenAI's finish reasons; a cancelled sample is vLLM's {@code abort}. */
    static String reason(JobEvent.FinishReason r) {
        return switch (r) {
            case STOP -> "stop";
            case LENGTH -> "length";
            case CANCELLED -> "abort";
            case ERROR -> "error";
        };
    }
}
