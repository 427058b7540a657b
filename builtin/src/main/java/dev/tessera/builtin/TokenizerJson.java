package dev.tessera.builtin;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Writes a trained byte-level BPE vocabulary as a Hugging Face {@code tokenizer.json}: added special tokens, a
 * {@code ByteLevel} pre-tokenizer and decoder, a post-processor that prepends the BOS token, and a {@code BPE} model
 * with its vocabulary and merges. The layout is the one the {@code tokenizers} library itself saves.
 */
final class TokenizerJson {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private TokenizerJson() {}

    static void write(BpeTrainer.Vocabulary vocab, String bos, Path file) throws IOException {
        ObjectNode root = F.objectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (int id = 0; id < vocab.specialCount(); id++) {
            ObjectNode t = added.addObject();
            t.put("id", id);
            t.put("content", vocab.tokens().get(id));
            t.put("single_word", false);
            t.put("lstrip", false);
            t.put("rstrip", false);
            t.put("normalized", false);
            t.put("special", true);
        }
        root.putNull("normalizer");
        root.set("pre_tokenizer", byteLevel(false, true));
        int bosId = vocab.tokens().indexOf(bos);
        if (bosId < 0 || bosId >= vocab.specialCount()) {
            throw new IllegalArgumentException("BOS token " + bos + " is not one of the special tokens");
        }
        ObjectNode post = F.objectNode();
        post.put("type", "Sequence");
        ArrayNode processors = post.putArray("processors");
        processors.add(byteLevel(true, false));
        ObjectNode template = processors.addObject();
        template.put("type", "TemplateProcessing");
        template.set("single", F.arrayNode().add(special(bos)).add(sequence("A")));
        template.set("pair", F.arrayNode().add(special(bos)).add(sequence("A")).add(special(bos)).add(sequence("B")));
        ObjectNode specials = template.putObject("special_tokens");
        ObjectNode bosEntry = specials.putObject(bos);
        bosEntry.put("id", bos);
        bosEntry.putArray("ids").add(bosId);
        bosEntry.putArray("tokens").add(bos);
        root.set("post_processor", post);
        root.set("decoder", byteLevel(true, true));

        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.put("ignore_merges", false);
        ObjectNode vocabNode = model.putObject("vocab");
        List<String> tokens = vocab.tokens();
        for (int id = 0; id < tokens.size(); id++) {
            vocabNode.put(tokens.get(id), id);
        }
        ArrayNode merges = model.putArray("merges");
        for (String[] m : vocab.merges()) {
            merges.add(F.arrayNode().add(m[0]).add(m[1]));
        }
        new ObjectMapper().disable(SerializationFeature.INDENT_OUTPUT).writeValue(file.toFile(), root);
    }

    private static ObjectNode byteLevel(boolean addPrefixSpace, boolean trimOffsets) {
        ObjectNode n = F.objectNode();
        n.put("type", "ByteLevel");
        n.put("add_prefix_space", addPrefixSpace);
        n.put("trim_offsets", trimOffsets);
        n.put("use_regex", true);
        return n;
    }

    private static ObjectNode special(String token) {
        ObjectNode n = F.objectNode();
        n.putObject("SpecialToken").put("id", token).put("type_id", 0);
        return n;
    }

    private static ObjectNode sequence(String id) {
        ObjectNode n = F.objectNode();
        n.putObject("Sequence").put("id", id).put("type_id", 0);
        return n;
    }
}
