package dev.tessera.gateway.launch;

import dev.tessera.engine.text.quant.WeightQuantization;
import picocli.CommandLine;

/** {@code --quantize none|int8|int4[:BLOCK][:asym]}: a bad value is a usage error naming the option's forms. */
public final class QuantizationSpec implements CommandLine.ITypeConverter<WeightQuantization> {
    @Override
    public WeightQuantization convert(String value) {
        try {
            return WeightQuantization.parse(value);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.TypeConversionException(e.getMessage());
        }
    }
}
