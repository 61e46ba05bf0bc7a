using InferServer.Kernels.Lora;
using TorchSharp;

namespace InferServer.Kernels.Tests.Lora;

public sealed class LoraBatchTests
{
    [Fact]
    public void Create_ListsTheDistinctNonZeroSlotsInAscendingOrder()
    {
        using var batch = LoraBatch.Create([3, 0, 1, 3, 0, 7, 1], torch.CPU);

        Assert.Equal(7, batch.Rows);
        Assert.Equal([1, 3, 7], batch.DistinctSlots);
        Assert.True(batch.HasAdapters);
    }

    [Fact]
    public void Create_GroupsRowsBySlotAndSpotsContiguousSegments()
    {
        using var batch = LoraBatch.Create([0, 2, 2, 2, 5, 0, 5], torch.CPU);

        var segment = batch.Group(0);
        Assert.Equal(2, segment.Slot);
        Assert.True(segment.IsContiguous);
        Assert.Equal(1, segment.Start);
        Assert.Equal(3, segment.Count);
        var scattered = batch.Group(1);
        Assert.False(scattered.IsContiguous);
        Assert.Equal([4, 6], scattered.RowList.ToArray());
        Assert.Equal([4L, 6L], scattered.RowIndex.data<long>().ToArray());
    }

    [Fact]
    public void StackIndex_OfOneRowPerContiguousSlotInOrder_IsXItselfOverASliceOfThePool()
    {
        using var batch = LoraBatch.Create([1, 2, 3, 4], torch.CPU);

        var stack = batch.StackIndex([true, true, true, true]);

        Assert.Null(stack.Rows);
        Assert.Null(stack.Positions);
        Assert.Null(stack.SlotIndex);
        Assert.Equal((1, 4, 1), (stack.FirstSlot, stack.StackSlots, stack.RowsPerSlot));
        Assert.Same(stack, batch.StackIndex([true, true, true, true]));
    }

    [Fact]
    public void StackIndex_PadsEachSlotToTheLongestAndLeavesGapsInTheSlice()
    {
        using var batch = LoraBatch.Create([5, 2, 0, 2, 4], torch.CPU);

        var stack = batch.StackIndex([true, true, true]);

        Assert.Null(stack.SlotIndex); // slots 2..5: one gap for three slots is cheaper than copying
        Assert.Equal((2, 4, 2), (stack.FirstSlot, stack.StackSlots, stack.RowsPerSlot));
        Assert.Equal([0L, 1L, 3L, 4L], stack.Rows!.data<long>().ToArray());
        Assert.Equal([6L, 0L, 1L, 4L], stack.Positions!.data<long>().ToArray());
    }

    [Fact]
    public void StackIndex_OfSlotsSpreadThinly_CopiesJustThoseSlots()
    {
        using var batch = LoraBatch.Create([1, 40, 9], torch.CPU);

        var stack = batch.StackIndex([true, true, true]);

        Assert.Equal([1L, 9L, 40L], stack.SlotIndex!.data<long>().ToArray());
        Assert.Equal([0L, 2L, 1L], stack.Positions!.data<long>().ToArray());
    }

    [Fact]
    public void StackIndex_LeavesSlotsWithManyRowsAndInactiveSlotsOut()
    {
        int[] slots = [.. Enumerable.Repeat(1, LoraStackIndex.MaxRowsPerSlot + 1), 2, 3];
        using var batch = LoraBatch.Create(slots, torch.CPU);

        var stack = batch.StackIndex([true, true, false]);

        Assert.Equal([0], stack.GroupedGroups);
        Assert.Equal([1], stack.StackedGroups);
        Assert.Equal(1, stack.Count);
        Assert.Equal([(long)slots.Length - 2], stack.Rows!.data<long>().ToArray());
    }

    [Fact]
    public void BatchOfBaseRowsOnly_HasNoAdapters()
    {
        using var batch = LoraBatch.Create([0, 0, 0], torch.CPU);

        Assert.False(batch.HasAdapters);
        Assert.Empty(batch.DistinctSlots);
    }

    [Fact]
    public void GatherIndex_SkipsBaseRowsAndInactiveSlotsAndIsBuiltOncePerStep()
    {
        using var batch = LoraBatch.Create([1, 0, 2, 1, 3], torch.CPU);

        var index = batch.GatherIndex([true, false, true]);

        Assert.Equal(3, index.Count);
        Assert.Equal([0L, 3L, 4L], index.Rows!.data<long>().ToArray());
        Assert.Equal([1L, 1L, 3L], index.RowSlots.data<long>().ToArray());
        Assert.Same(index, batch.GatherIndex([true, false, true]));
    }

    [Fact]
    public void GatherIndexOverEveryRow_NeedsNoRowIndex()
    {
        using var batch = LoraBatch.Create([2, 1, 2], torch.CPU);

        var index = batch.GatherIndex([true, true]);

        Assert.Null(index.Rows);
        Assert.Equal([2L, 1L, 2L], index.RowSlots.data<long>().ToArray());
    }

    [Fact]
    public void NegativeSlot_IsRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => LoraBatch.Create([0, -1], torch.CPU));
    }
}
