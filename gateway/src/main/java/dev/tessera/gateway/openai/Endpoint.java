package dev.tessera.gateway.openai;

import java.util.regex.Pattern;

/**
 * The two text endpoints, and what differs between them on the wire: the ids and object names of responses, and
 * the request field a domain field path stands for (the serving core names fields as in the gRPC API, e.g.
 * {@code sampling.top_p}; a client of this API sent {@code top_p}).
 */
enum Endpoint {
    /** {@code POST /v1/chat/completions}. */
    CHAT("chatcmpl-", "chat.completion", "chat.completion.chunk", "messages", "top_logprobs"),
    /** {@code POST /v1/completions}. */
    COMPLETION("cmpl-", "text_completion", "text_completion", "prompt", "logprobs");

    final String idPrefix;
    final String object;
    final String chunkObject;
    private final String inputParam;
    private final String logprobsParam;

    Endpoint(String idPrefix, String object, String chunkObject, String inputParam, String logprobsParam) {
        this.idPrefix = idPrefix;
        this.object = object;
        this.chunkObject = chunkObject;
        this.inputParam = inputParam;
        this.logprobsParam = logprobsParam;
    }

    /**
     * The request field of this API that the serving core's field path {@code field} stands for.
     *
     * @param maxTokensParam the name the client used for the output length ({@code max_tokens} or
     *                       {@code max_completion_tokens})
     */
    String param(String field, String maxTokensParam) {
        return switch (field) {
            case "sampling.max_tokens" -> maxTokensParam;
            case "sampling.logprobs" -> logprobsParam;
            case "input", "prompt", "prompt_token_ids.ids" -> inputParam;
            case "min_pixels", "max_pixels" -> "mm_processor_kwargs." + field;
            default -> field.startsWith("sampling.") ? field.substring("sampling.".length())
                    : IMAGE_PART.matcher(field).replaceFirst("$1.image_url.url");
        };
    }

    /** An image part's field as the serving core names it ({@code messages[0].content[1].image.data}). */
    private static final Pattern IMAGE_PART = Pattern.compile("^(messages\\[\\d+]\\.content\\[\\d+])\\.image(\\..*)?$");
}
