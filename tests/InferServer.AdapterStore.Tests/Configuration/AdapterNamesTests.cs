using InferServer.AdapterStore.Configuration;
using InferServer.AdapterStore.Registry;

namespace InferServer.AdapterStore.Tests.Configuration;

public sealed class AdapterNamesTests
{
    [Theory]
    [InlineData("a")]
    [InlineData("sql-lora_v1.2")]
    [InlineData("A9")]
    public void NamesOfLettersDigitsDotsDashesAndUnderscores_AreAccepted(string name) => AdapterNames.Validate(name);

    [Theory]
    [InlineData("", "required")]
    [InlineData("a/b", "'/'")]
    [InlineData("a\\b", "'\\'")]
    [InlineData("../x", "'/'")]
    [InlineData(".env", "start with '.'")]
    [InlineData("a..b", "\"..\"")]
    [InlineData("naïve", "'ï'")]
    [InlineData("a b", "' '")]
    public void OtherNames_AreRefusedSayingWhy(string name, string reason)
    {
        var error = Assert.Throws<InvalidAdapterNameException>(() => AdapterNames.Validate(name));

        Assert.Contains(reason, error.Message);
    }

    [Fact]
    public void NamesLongerThan128Characters_AreRefused()
    {
        AdapterNames.Validate(new string('a', 128));

        Assert.Throws<InvalidAdapterNameException>(() => AdapterNames.Validate(new string('a', 129)));
    }
}
