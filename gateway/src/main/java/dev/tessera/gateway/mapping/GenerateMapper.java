package dev.tessera.gateway.mapping;

import dev.tessera.api.v1.ContentPart;
import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.scheduler.text.ChatMessage;
import dev.tessera.scheduler.text.Sampling;
import java.util.ArrayList;
import java.util.List;

/**
 * Maps a {@code GenerateRequest} to the serving core's request, field for field. It checks nothing: the serving
 * core validates (off the event loop) and names the field at fault. Unsigned wire values are widened, never
 * wrapped, so that an out-of-range value can be named.
 */
public final class GenerateMapper {
    private GenerateMapper() {
    }

    /** The domain request; {@code requestId} is the job's id for logs. */
    public static dev.tessera.scheduler.text.GenerateRequest toDomain(String requestId, GenerateRequest r) {
        String prompt = null;
        long[] ids = null;
        switch (r.getInputCase()) {
            case PROMPT -> prompt = r.getPrompt();
            case PROMPT_TOKEN_IDS -> {
                ids = new long[r.getPromptTokenIds().getIdsCount()];
                for (int i = 0; i < ids.length; i++) ids[i] = Integer.toUnsignedLong(r.getPromptTokenIds().getIds(i));
            }
            case INPUT_NOT_SET -> {
                // the serving core answers INVALID_ARGUMENT on "input"
            }
        }
        List<ChatMessage> messages = null;
        if (r.getMessagesCount() > 0) {
            messages = new ArrayList<>(r.getMessagesCount());
            for (dev.tessera.api.v1.ChatMessage m : r.getMessagesList()) messages.add(message(m));
        }
        long[] resume = null;
        if (r.getResumeTokenIdsCount() > 0) {
            resume = new long[r.getResumeTokenIdsCount()];
            for (int i = 0; i < resume.length; i++) resume[i] = Integer.toUnsignedLong(r.getResumeTokenIds(i));
        }
        return new dev.tessera.scheduler.text.GenerateRequest(requestId, r.getModel(), prompt, ids,
                sampling(r.getSampling()), r.getPriority(), messages,
                r.hasMinPixels() ? r.getMinPixels() : null, r.hasMaxPixels() ? r.getMaxPixels() : null, resume);
    }

    private static ChatMessage message(dev.tessera.api.v1.ChatMessage m) {
        List<ChatMessage.Part> parts = new ArrayList<>(m.getContentCount());
        for (ContentPart p : m.getContentList()) {
            parts.add(switch (p.getPartCase()) {
                case TEXT -> new ChatMessage.Part.Text(p.getText());
                case IMAGE -> new ChatMessage.Part.Image(ImageMapper.toDomain(p.getImage()));
                case PART_NOT_SET -> new ChatMessage.Part.Empty();
            });
        }
        return new ChatMessage(m.getRole(), parts, m.hasName() ? m.getName() : null);
    }

    static Sampling sampling(dev.tessera.api.v1.SamplingParams p) {
        Sampling.Builder b = Sampling.builder();
        if (p.hasTemperature()) b.temperature(p.getTemperature());
        if (p.hasTopP()) b.topP(p.getTopP());
        if (p.hasTopK()) b.topK(p.getTopK());
        if (p.hasMinP()) b.minP(p.getMinP());
        if (p.hasRepetitionPenalty()) b.repetitionPenalty(p.getRepetitionPenalty());
        if (p.hasPresencePenalty()) b.presencePenalty(p.getPresencePenalty());
        if (p.hasFrequencyPenalty()) b.frequencyPenalty(p.getFrequencyPenalty());
        if (p.hasSeed()) b.seed(p.getSeed());
        if (p.hasMaxTokens()) b.maxTokens(Integer.toUnsignedLong(p.getMaxTokens()));
        if (p.hasIgnoreEos()) b.ignoreEos(p.getIgnoreEos());
        if (p.hasN()) b.n(Integer.toUnsignedLong(p.getN()));
        if (p.hasLogprobs()) b.logprobs(Integer.toUnsignedLong(p.getLogprobs()));
        b.stop(p.getStopList());
        long[] stopIds = new long[p.getStopTokenIdsCount()];
        for (int i = 0; i < stopIds.length; i++) stopIds[i] = Integer.toUnsignedLong(p.getStopTokenIds(i));
        b.stopTokenIds(stopIds);
        return b.build();
    }
}
