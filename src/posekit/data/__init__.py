"""posekit.data"""
