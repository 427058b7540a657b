package dev.tessera.loadtest.workload;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.ListValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.protobuf.util.JsonFormat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * Requests read from a JSONL file, one JSON object a line, cycled in order:
 * {@code {"prompt": "...", "max_tokens": 64}} or {@code {"messages": [{"role": "user", "content": "..."}],
 * "max_tokens": 64}} ({@code content} a string or OpenAI parts: {@code text}, and {@code image_url} with a base64
 * {@code data:image/png} or {@code data:image/jpeg} URL). {@code max_tokens} defaults to the given
 * value; {@code ignore_eos} (default false) may be set per line. Blank lines are skipped.
 */
public final class JsonlWorkload implements Workload {
    private final List<LoadRequest> requests;
    private int next;

    public JsonlWorkload(List<LoadRequest> requests) {
        if (requests.isEmpty()) throw new IllegalArgumentException("the workload file has no request");
        this.requests = List.copyOf(requests);
    }

    /** Reads {@code file}; a bad line fails with its line number. */
    public static JsonlWorkload read(Path file, int defaultMaxTokens) throws IOException {
        List<LoadRequest> out = new ArrayList<>();
        List<String> lines = Files.readAllLines(file);
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).trim();
            if (line.isEmpty()) continue;
            try {
                out.add(parse(line, defaultMaxTokens));
            } catch (IllegalArgumentException | InvalidProtocolBufferException e) {
                throw new IllegalArgumentException(file + ":" + (i + 1) + ": " + e.getMessage(), e);
            }
        }
        return new JsonlWorkload(out);
    }

    /** Parses one line. */
    static LoadRequest parse(String json, int defaultMaxTokens) throws InvalidProtocolBufferException {
        Struct.Builder b = Struct.newBuilder();
        JsonFormat.parser().merge(json, b);
        Struct s = b.build();
        int maxTokens = s.containsFields("max_tokens")
                ? (int) s.getFieldsOrThrow("max_tokens").getNumberValue() : defaultMaxTokens;
        boolean ignoreEos = s.containsFields("ignore_eos") && s.getFieldsOrThrow("ignore_eos").getBoolValue();
        if (s.containsFields("prompt")) {
            String prompt = s.getFieldsOrThrow("prompt").getStringValue();
            if (prompt.isEmpty()) throw new IllegalArgumentException("prompt must be a non-empty string");
            return new LoadRequest(prompt, List.of(), maxTokens, ignoreEos, -1);
        }
        if (!s.containsFields("messages")) throw new IllegalArgumentException("a line needs \"prompt\" or \"messages\"");
        List<LoadRequest.Message> messages = new ArrayList<>();
        for (Value m : s.getFieldsOrThrow("messages").getListValue().getValuesList()) {
            Struct msg = m.getStructValue();
            String role = msg.containsFields("role") ? msg.getFieldsOrThrow("role").getStringValue() : "user";
            Value content = msg.getFieldsOrDefault("content", Value.getDefaultInstance());
            List<ChatImage> images = new ArrayList<>();
            messages.add(new LoadRequest.Message(role, text(content, images), images));
        }
        if (messages.isEmpty()) throw new IllegalArgumentException("messages must not be empty");
        return new LoadRequest(null, messages, maxTokens, ignoreEos, -1);
    }

    /** The text of {@code content}; its images go to {@code images}. */
    private static String text(Value content, List<ChatImage> images) {
        if (content.hasStringValue()) return content.getStringValue();
        if (!content.hasListValue()) throw new IllegalArgumentException("content must be a string or a list of parts");
        StringBuilder text = new StringBuilder();
        ListValue parts = content.getListValue();
        for (Value part : parts.getValuesList()) {
            Struct p = part.getStructValue();
            String type = p.getFieldsOrDefault("type", Value.getDefaultInstance()).getStringValue();
            if (type.equals("text")) {
                text.append(p.getFieldsOrThrow("text").getStringValue());
            } else if (type.equals("image_url")) {
                images.add(image(p.getFieldsOrDefault("image_url", Value.getDefaultInstance())));
            } else {
                throw new IllegalArgumentException("a content part is text or image_url, got '" + type + "'");
            }
        }
        return text.toString();
    }

    /** An {@code image_url} part's image: {@code {"url": "data:image/png;base64,..."}} or the URL alone. */
    private static ChatImage image(Value imageUrl) {
        String url = imageUrl.hasStructValue()
                ? imageUrl.getStructValue().getFieldsOrDefault("url", Value.getDefaultInstance()).getStringValue()
                : imageUrl.getStringValue();
        int comma = url.indexOf(',');
        String head = comma < 0 ? "" : url.substring(0, comma);
        if (!head.startsWith("data:image/") || !head.endsWith(";base64")) {
            throw new IllegalArgumentException("image_url must be a base64 data: URL (data:image/png;base64,...)");
        }
        return ChatImage.of(Base64.getMimeDecoder().decode(url.substring(comma + 1)),
                head.substring(5, head.length() - 7));
    }

    @Override
    public LoadRequest next() {
        LoadRequest r = requests.get(next);
        next = (next + 1) % requests.size();
        return r;
    }

    /** How many distinct requests the file holds. */
    public int size() {
        return requests.size();
    }
}
