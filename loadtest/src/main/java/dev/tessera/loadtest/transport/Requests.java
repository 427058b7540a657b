package dev.tessera.loadtest.transport;

import dev.tessera.api.v1.ChatMessage;
import dev.tessera.api.v1.ContentPart;
import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.Image;
import dev.tessera.api.v1.ImageFormat;
import dev.tessera.api.v1.SamplingParams;
import dev.tessera.loadtest.measure.Json;
import dev.tessera.loadtest.workload.ChatImage;
import dev.tessera.loadtest.workload.LoadRequest;

/** A {@link LoadRequest} as the wire wants it: a gRPC {@link GenerateRequest} or an OpenAI JSON body. Greedy. */
final class Requests {
    private Requests() {
    }

    static GenerateRequest grpc(LoadRequest r, String model) {
        GenerateRequest.Builder b = GenerateRequest.newBuilder().setModel(model)
                .setSampling(SamplingParams.newBuilder().setMaxTokens(r.maxTokens()).setTemperature(0)
                        .setIgnoreEos(r.ignoreEos()));
        if (r.prompt() != null) {
            b.setPrompt(r.prompt());
        } else {
            for (LoadRequest.Message m : r.messages()) {
                ChatMessage.Builder message = ChatMessage.newBuilder().setRole(m.role());
                for (ChatImage image : m.images()) {
                    message.addContent(ContentPart.newBuilder().setImage(Image.newBuilder()
                            .setData(image.data())
                            .setFormat(image.mediaType().equals("image/png") ? ImageFormat.IMAGE_FORMAT_PNG
                                    : ImageFormat.IMAGE_FORMAT_JPEG)));
                }
                b.addMessages(message.addContent(ContentPart.newBuilder().setText(m.content())));
            }
        }
        return b.build();
    }

    /** The JSON body of {@code /v1/completions} (a prompt) or {@code /v1/chat/completions} (messages), streamed. */
    static String openAi(LoadRequest r, String model) {
        StringBuilder b = new StringBuilder(256);
        b.append('{');
        if (!model.isEmpty()) b.append("\"model\":").append(Json.string(model)).append(',');
        if (r.prompt() != null) {
            b.append("\"prompt\":").append(Json.string(r.prompt()));
        } else {
            b.append("\"messages\":[");
            for (int i = 0; i < r.messages().size(); i++) {
                LoadRequest.Message m = r.messages().get(i);
                if (i > 0) b.append(',');
                b.append("{\"role\":").append(Json.string(m.role())).append(",\"content\":");
                if (m.images().isEmpty()) {
                    b.append(Json.string(m.content()));
                } else {
                    b.append('[');
                    for (ChatImage image : m.images()) {
                        b.append("{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:").append(image.mediaType())
                                .append(";base64,").append(image.base64())
                                .append("\"}},");
                    }
                    b.append("{\"type\":\"text\",\"text\":").append(Json.string(m.content())).append("}]");
                }
                b.append('}');
            }
            b.append(']');
        }
        return b.append(",\"max_tokens\":").append(r.maxTokens()).append(",\"temperature\":0,\"ignore_eos\":")
                .append(r.ignoreEos()).append(",\"stream\":true,\"stream_options\":{\"include_usage\":true}}")
                .toString();
    }
}
