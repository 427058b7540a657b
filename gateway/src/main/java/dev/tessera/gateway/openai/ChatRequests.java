package dev.tessera.gateway.openai;

import dev.tessera.scheduler.core.ImageData;
import dev.tessera.scheduler.text.ChatMessage;
import dev.tessera.scheduler.text.GenerateRequest;
import dev.tessera.scheduler.text.Sampling;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;

/**
 * {@code POST /v1/chat/completions} to a domain request with chat messages (rendered by the model's chat template
 * in the serving core). Content is a string or a list of parts: {@code text}, and {@code image_url} with a
 * {@code data:} URL (for vision models; a text model refuses it). A remote {@code http(s)} image URL is refused:
 * this server never fetches what a client points it at. {@code logprobs} is a boolean and {@code top_logprobs}
 * the number of alternatives. As in vLLM, {@code mm_processor_kwargs.min_pixels} / {@code max_pixels} bound a
 * vision model's image resize for this request.
 */
final class ChatRequests {
    private ChatRequests() {
    }

    static ApiRequest map(String requestId, JsonObject body) {
        JsonFields f = new JsonFields(body);
        String model = f.optString("model");
        Sampling.Builder sampling = SamplingFields.sampling(f);
        boolean logprobs = Boolean.TRUE.equals(f.optBool("logprobs"));
        Long top = f.optLong("top_logprobs");
        if (top != null && !logprobs) throw f.unsupported("top_logprobs", "requires logprobs: true");
        if (logprobs) sampling.logprobs(top == null ? 1 : top < 0 ? top : Math.max(1, top));
        JsonArray messages = f.optArray("messages");
        if (messages == null) throw ApiError.invalid("messages", "is required").exception();
        // vLLM's per-request processor arguments: the pixel bounds of a vision model's image resize
        JsonObject mm = f.optObject("mm_processor_kwargs");
        JsonFields kwargs = mm == null ? null : new JsonFields(mm, "mm_processor_kwargs.");
        GenerateRequest job = new GenerateRequest(requestId, model == null ? "" : model, null, null,
                sampling.build(), 0, messages(messages), kwargs == null ? null : kwargs.optLong("min_pixels"),
                kwargs == null ? null : kwargs.optLong("max_pixels"));
        return new ApiRequest(Endpoint.CHAT, job, SamplingFields.stream(f), SamplingFields.includeUsage(f),
                logprobs, top == null ? 0 : (int) Math.max(0, Math.min(top, Integer.MAX_VALUE)),
                SamplingFields.maxTokensParam(f));
    }

    private static List<ChatMessage> messages(JsonArray array) {
        List<ChatMessage> out = new ArrayList<>(array.size());
        for (int i = 0; i < array.size(); i++) {
            String at = "messages[" + i + "]";
            if (!(array.getValue(i) instanceof JsonObject m)) throw ApiError.invalid(at, "must be an object").exception();
            JsonFields f = new JsonFields(m, at + ".");
            String role = f.optString("role");
            if (role == null) throw ApiError.invalid(at + ".role", "is required").exception();
            JsonArray toolCalls = f.optArray("tool_calls");
            if (toolCalls != null && !toolCalls.isEmpty()) throw f.unsupported("tool_calls", "are not supported");
            out.add(new ChatMessage(role, content(f, at), f.optString("name")));
        }
        return out;
    }

    private static List<ChatMessage.Part> content(JsonFields f, String at) {
        Object v = f.raw("content");
        if (v == null) return List.of(new ChatMessage.Part.Text(""));
        if (v instanceof String s) return List.of(new ChatMessage.Part.Text(s));
        if (!(v instanceof JsonArray parts)) {
            throw ApiError.invalid(at + ".content", "must be a string or an array of parts").exception();
        }
        List<ChatMessage.Part> out = new ArrayList<>(parts.size());
        for (int j = 0; j < parts.size(); j++) {
            String partAt = at + ".content[" + j + "]";
            if (!(parts.getValue(j) instanceof JsonObject part)) {
                throw ApiError.invalid(partAt, "must be an object").exception();
            }
            JsonFields p = new JsonFields(part, partAt + ".");
            String type = p.optString("type");
            if ("text".equals(type)) {
                String text = p.optString("text");
                if (text == null) throw ApiError.invalid(partAt + ".text", "is required").exception();
                out.add(new ChatMessage.Part.Text(text));
            } else if ("image_url".equals(type)) {
                out.add(new ChatMessage.Part.Image(image(p, partAt)));
            } else {
                throw ApiError.invalid(partAt + ".type", "must be 'text' or 'image_url', got "
                        + (type == null ? "nothing" : "'" + type + "'")).exception();
            }
        }
        return out;
    }

    /** A {@code data:} URL's image; anything else is refused. */
    private static ImageData image(JsonFields p, String at) {
        Object imageUrl = p.raw("image_url");
        String url = imageUrl instanceof String s ? s
                : imageUrl instanceof JsonObject o ? new JsonFields(o, at + ".image_url.").optString("url") : null;
        String param = at + ".image_url.url";
        if (url == null) throw ApiError.invalid(param, "is required").exception();
        String lower = url.toLowerCase(Locale.ROOT);
        if (lower.startsWith("http://") || lower.startsWith("https://")) {
            throw ApiError.invalid(param, "remote image URLs are not fetched by this server; send the image inline"
                    + " as a data: URL (data:image/png;base64,...)").exception();
        }
        int comma = url.indexOf(',');
        if (!lower.startsWith("data:") || comma < 0 || !lower.substring(0, comma).endsWith(";base64")) {
            throw ApiError.invalid(param, "must be a base64 data: URL (data:image/png;base64,...)").exception();
        }
        String mediaType = lower.substring(5, lower.indexOf(';'));
        ImageData.Format format = switch (mediaType) {
            case "image/png" -> ImageData.Format.PNG;
            case "image/jpeg", "image/jpg" -> ImageData.Format.JPEG;
            default -> ImageData.Format.UNSPECIFIED;
        };
        try {
            return new ImageData(Base64.getMimeDecoder().decode(url.substring(comma + 1)), format, 0, 0);
        } catch (IllegalArgumentException e) {
            throw ApiError.invalid(param, "is not valid base64: " + e.getMessage()).exception();
        }
    }
}
