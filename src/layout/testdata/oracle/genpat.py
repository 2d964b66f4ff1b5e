import struct,sys
n=int(sys.argv[2])
M=0x9E3779B97F4A7C15
with open(sys.argv[1],'wb') as f:
    for s in range(n):
        f.write(struct.pack('<Q8sQ',s,b'UMDPATRN',(s*M+0x1234567)&0xFFFFFFFFFFFFFFFF).ljust(512,b'\0'))
