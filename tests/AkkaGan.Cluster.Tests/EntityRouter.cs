using Akka.Actor;
using AkkaGan.Cluster.Protocol;
using AkkaGan.Core.Training;

namespace AkkaGan.Cluster.Tests;

/// <summary>
/// A stand-in for a shard region in single-system specs: routes <see cref="IWithEntityId"/> messages to a
/// child per entity id, created on first use.
/// </summary>
internal sealed class EntityRouter : ReceiveActor
{
    public EntityRouter(Func<string, IActorRef, Props> props)
    {
        ReceiveAny(message =>
        {
            var id = (message as IWithEntityId)?.EntityId;
            if (id is null)
            {
                Unhandled(message);
                return;
            }
            var child = Context.Child(id);
            if (child.IsNobody()) child = Context.ActorOf(props(id, Self), id);
            child.Forward(message);
        });
    }
}
