"""posekit.deploy"""
