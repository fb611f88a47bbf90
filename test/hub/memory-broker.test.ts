import { memoryBroker } from 'duplexjs/hub';
import { brokerSuite } from './broker-suite.js';

brokerSuite('memoryBroker', ({ clock }) => {
  const broker = memoryBroker({ clock });
  return {
    broker,
    peer: () => memoryBroker({ backend: broker.backend }),
    outage: (down) => broker.simulateOutage(down),
    dataLoss: () => broker.simulateDataLoss(),
  };
});
