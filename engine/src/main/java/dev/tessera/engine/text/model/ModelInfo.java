package dev.tessera.engine.text.model;

/**
 * What the rest of the server needs to know about a loaded decoder model.
 *
 * @param name         model name as served (directory name or built-in name)
 * @param architecture e.g. {@code LlamaForCausalLM}, {@code Qwen2ForCausalLM}
 * @param eosTokenIds  ids that end generation (from generation_config.json, else config.json)
 * @param bosTokenId   id prepended by the tokenizer, or -1
 * @param maxModelLen  maximum positions (prompt + output)
 */
public record ModelInfo(String name, String architecture, int vocabSize, int hiddenSize, int numLayers,
                        int numHeads, int numKvHeads, int headDim, int maxModelLen, int[] eosTokenIds,
                        int bosTokenId) {
}
